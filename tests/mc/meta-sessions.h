/* braid — meta protocol sessions shared by test-meta (against the bytes
 * observed from memcached 1.6.18) and test-meta-integration (against a
 * live memcached 1.6.18, side by side). */
#pragma once

#include <glib.h>

typedef struct {
  const gchar *name;
  const gchar *input;
  const gchar *output;
} Session;

static const Session meta_sessions[] = {
/* Generated from a fresh memcached 1.6.18 (Debian) per session: the
 * replies below were observed from it, byte for byte. */
  { "get-return-flags",
    "ms k1 3 T0 F5\r\nabc\r\nmg k1 v f t c k s h l O123\r\nmg k1\r\nmg k1 s v\r\nmg k1 f O9 c\r\n",
    "HD\r\nVA 3 f5 t-1 c1 kk1 s3 h0 l0 O123\r\nabc\r\nHD\r\nVA 3 s3\r\nabc\r\nHD f5 O9 c1\r\n" },
  { "get-miss",
    "mg nokey\r\nmg nokey O9 k\r\nmg nokey v s t c f\r\n",
    "EN\r\nEN O9 knokey\r\nEN\r\n" },
  { "get-quiet",
    "ms k 1\r\nx\r\nmg k q\r\nmg k v q\r\nmg nokey q\r\nmg nokey q O1 k\r\nmn\r\n",
    "HD\r\nHD\r\nVA 1\r\nx\r\nMN\r\n" },
  { "get-hit-and-last-access",
    "ms hk 1\r\na\r\nmg hk h l\r\nmg hk h l\r\nmg hk u\r\nms hk2 1\r\na\r\nmg hk2 u\r\nmg hk2 h\r\nmg hk2 h\r\n",
    "HD\r\nHD h0 l0\r\nHD h1 l0\r\nHD\r\nHD\r\nHD\r\nHD h0\r\nHD h1\r\n" },
  { "get-vivify",
    "mg v1 N30 v c t\r\nmg v1 N30 v c t\r\nmg v1 v\r\nms v1 3 T60\r\nnew\r\nmg v1 v t c\r\nmg v2 N0 s\r\n",
    "VA 0 c1 t30 W\r\n\r\nVA 0 c1 t30 Z\r\n\r\nVA 0 Z\r\n\r\nHD\r\nVA 3 t60 c2\r\nnew\r\nHD s0 W\r\n" },
  { "get-recache",
    "ms r1 1 T10\r\nx\r\nmg r1 R30 c t\r\nmg r1 R30 c t\r\nmg r1 R5 t\r\nms r2 1\r\nx\r\nmg r2 R30\r\nms r3 1 T100\r\nx\r\nmg r3 R30 t\r\n",
    "HD\r\nHD c1 t10 W\r\nHD c1 t10 Z\r\nHD t10 Z\r\nHD\r\nHD\r\nHD\r\nHD t100\r\n" },
  { "get-touch",
    "ms t1 1\r\nx\r\nmg t1 T100 t\r\nmg t1 t\r\nmg t1 t T50\r\nmg t1 T0 t\r\nmg nokey T10\r\n",
    "HD\r\nHD t100\r\nHD t100\r\nHD t100\r\nHD t-1\r\nEN\r\n" },
  { "get-errors",
    "mg\r\nmg k1 zz\r\nmg k1 v v\r\nmg k1 O123456789012345678901234567890123\r\nmg k1 O12345678901234567890123456789012\r\nmg k Tx Nx v v\r\nmg k Tx zz\r\nmg k MXY\r\nmg k Tx R1\r\nmg k Mx\r\nmg t1 T\r\nmg k \xff""\r\nmg k Fx\r\n",
    "ERROR\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\nCLIENT_ERROR opaque token too long\r\nCLIENT_ERROR opaque token too long\r\nCLIENT_ERROR duplicate flag\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR incorrect length for M token\r\nCLIENT_ERROR bad token in command line format\r\nEN\r\nCLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR duplicate flag\r\nCLIENT_ERROR bad command line format\r\n" },
  { "get-too-many-flags",
    "mg k a b c d e f g h i j k l m n o p q r s\r\nmg k a b c d e f g h i j k l m n o p q r\r\nmg k v s f t c O1 k h l u P L\r\n",
    "CLIENT_ERROR options flags are too long\r\nCLIENT_ERROR options flags are too long\r\nEN O1 kk\r\n" },
  { "base64-keys",
    "ms Zm9v 3 b\r\nbar\r\nmg Zm9v b v k\r\nmg foo v k\r\nmg Zm9v b k O1\r\nmg Zm9 b v\r\nmg !!!! b v\r\nmd Zm9v b k\r\nmg Zm9vYmFy b k\r\nms Zm9v 1 b k\r\nz\r\nme Zm9v b\r\nme foo\r\nma YWJj b N0 k\r\nmg Zg== b k\r\nmg Zg= b k\r\nmg Z=== b k\r\nmg Zg==Zg== b k\r\nmg ==== b k\r\n",
    "HD\r\nVA 3 kZm9v b\r\nbar\r\nVA 3 kZm9v b\r\nbar\r\nHD kZm9v b O1\r\nCLIENT_ERROR error decoding key\r\nCLIENT_ERROR error decoding key\r\nHD kZm9v b\r\nEN kZm9vYmFy b\r\nHD kZm9v b\r\nME Zm9v exp=-1 la=0 cas=2 fetch=no cls=1 size=63\r\nME Zm9v exp=-1 la=0 cas=2 fetch=no cls=1 size=63\r\nHD kYWJj b\r\nEN kZg== b\r\nCLIENT_ERROR error decoding key\r\nCLIENT_ERROR error decoding key\r\nEN kZg== b\r\nCLIENT_ERROR error decoding key\r\n" },
  { "set-modes",
    "ms k3 2 ME\r\nab\r\nms k3 2 ME\r\nab\r\nms k3 2 MR\r\ncd\r\nms nok 2 MR\r\ncd\r\nms k3 2 MP\r\nzz\r\nms k3 2 MA\r\nyy\r\nms nok 2 MA\r\nzz\r\nms nok 2 MP\r\nzz\r\nms k3 2 MS k O1\r\nqq\r\nmg k3 v\r\nms k3 2 MX\r\nhi\r\nms k3 2 MI\r\nhi\r\nms k3 2 MSS\r\nhi\r\nmg k3 v\r\n",
    "HD\r\nNS\r\nHD\r\nNS\r\nHD\r\nHD\r\nNS\r\nNS\r\nHD kk3 O1\r\nVA 2\r\nqq\r\nCLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR incorrect length for M token\r\nVA 2\r\nqq\r\n" },
  { "set-cas",
    "ms k4 2 C999\r\nab\r\nms k4 2 c\r\nab\r\nmg k4 c\r\nms k4 2 C1 c\r\nxy\r\nms k4 2 C2 c\r\nxy\r\nms k4 2 C0\r\nxy\r\nms k4 2 MA C1\r\nzz\r\nms k4 2 MA C3\r\nzz\r\nms k4 2 MR C999\r\nzz\r\nms k4 2 ME C999\r\nzz\r\nms k5 2 ME C999\r\nzz\r\nms c1 1 ME c\r\na\r\nms c1 1 ME c\r\na\r\nms c1 1 C1 c k\r\na\r\nms nokk 1 MR c\r\na\r\nmg k4 v c\r\n",
    "NF\r\nHD c1\r\nHD c1\r\nHD c2\r\nHD c3\r\nEX\r\nEX\r\nHD\r\nEX\r\nNS\r\nHD\r\nHD c6\r\nNS c0\r\nEX c0 kc1\r\nNS c0\r\nVA 4 c4\r\nxyzz\r\n" },
  { "set-flags-and-ttl",
    "ms f 1 F7 T100\r\nx\r\nmg f f t\r\nms f 1 F4294967296\r\nx\r\nmg f f t\r\nms f 1 F-1\r\nx\r\nms f 1 T-1\r\nx\r\nmg f\r\nms f 1 Tx\r\nx\r\nms f 1 Cx\r\nx\r\n",
    "HD\r\nHD f7 t100\r\nHD\r\nHD f0 t-1\r\nCLIENT_ERROR bad command line format\r\nHD\r\nEN\r\nCLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad token in command line format\r\n" },
  { "set-quiet",
    "ms q1 1 q\r\na\r\nms q1 1 q ME\r\na\r\nms q1 1 q C1\r\na\r\nms q2 1 q MR\r\na\r\nms q1 1 q\r\nabc\r\nmg q1 v\r\nmn\r\n",
    "NS\r\nNS\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nVA 1\r\na\r\nMN\r\n" },
  { "set-errors",
    "ms\r\nms k\r\nms k xx\r\nms k -1\r\nms k 2147483647\r\nms k 1 zz\r\nx\r\nms k 1 v v\r\nx\r\nms k 1 MXY\r\nx\r\nms k 1 Fx Tx\r\nx\r\nms k 1 O123456789012345678901234567890123\r\nx\r\nms k 1 a b c d e f g h i j k l m n o p q\r\nx\r\nms k 1 F1 c d e f g h i j k l m n o p\r\nx\r\nms k 2 c\r\nabcd\r\nms k 4294967297\r\nmg k\r\n",
    "ERROR\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\nCLIENT_ERROR incorrect length for M token\r\nCLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR opaque token too long\r\nCLIENT_ERROR options flags too long\r\nERROR\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\n" },
  { "set-invalidate",
    "ms i1 3\r\nold\r\nmd i1 I T30\r\nmg i1 v c t\r\nmg i1 v c\r\nms i1 3 C1\r\nnew\r\nmg i1 c v\r\nms i1 3 I C1\r\nnew\r\nmg i1 v c t\r\nms i1 3 I C999\r\nnew\r\nmd i1 I q\r\nmd i1 I\r\nmg i1 s v\r\nms i1 1\r\nz\r\nmg i1 v\r\n",
    "HD\r\nHD\r\nVA 3 c2 t30 X W\r\nold\r\nVA 3 c2 Z X\r\nold\r\nEX\r\nVA 3 c2 Z X\r\nold\r\nHD\r\nVA 3 c3 t30 Z X\r\nnew\r\nEX\r\nHD\r\nVA 3 s3 X W\r\nnew\r\nHD\r\nVA 1\r\nz\r\n" },
  { "delete",
    "md k5\r\nmd k5 q\r\nms k5 1\r\nx\r\nmd k5 q\r\nmg k5\r\nms k5 1\r\nx\r\nmd k5 O1 k\r\nmd k5 C1\r\nms k5 1\r\nx\r\nmd k5 C1\r\nmd k5 C0\r\nmd k5 C3\r\nmd nok I\r\nmd\r\nmd k Tx\r\nmd k zz\r\nmd k O123456789012345678901234567890123\r\nmd k a b c d e f g h i j k l m n o p q r\r\n",
    "NF\r\nNF\r\nHD\r\nEN\r\nHD\r\nHD O1 kk5\r\nNF\r\nHD\r\nEX\r\nEX\r\nHD\r\nNF\r\nERROR\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR opaque token too long\r\nCLIENT_ERROR options flags too long\r\n" },
  { "arith",
    "ma k6\r\nma k6 N0 J10\r\nma k6\r\nma k6 v\r\nma k6 MD D5 v\r\nma k6 M- D50 v c t\r\nma k6 MI v\r\nma k6 M+ D9 v\r\nma k6 q\r\nma k6 q D2 v\r\nmg k6 v\r\nms k7 1\r\nx\r\nma k7\r\nma k6 C1\r\nms k8 0\r\n\r\nma k8\r\n",
    "NF\r\nHD\r\nHD\r\nVA 2\r\n12\r\nVA 1\r\n7\r\nVA 1 c5 t-1\r\n0\r\nVA 1\r\n1\r\nVA 2\r\n10\r\nVA 2\r\n13\r\nHD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nEX\r\nHD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n" },
  { "arith-vivify-and-ttl",
    "ma nf q\r\nma nf q N0 J5 v\r\nma nf v\r\nma nf N0 J5\r\nma n2 N100 J5 t v\r\nma n2 T200 t\r\nma n2 t T300\r\nma n3 J5\r\nma n3 N0 J18446744073709551615 v\r\nma n3 v\r\nma n4 MD N0 J3 v\r\nma n4 MD N0 J3 v\r\nma n5 O1 k\r\n",
    "NF\r\nVA 1\r\n5\r\nVA 1\r\n6\r\nHD\r\nVA 1 t100\r\n5\r\nHD t200\r\nHD t200\r\nNF\r\nVA 20\r\n18446744073709551615\r\nVA 1\r\n0\r\nVA 1\r\n3\r\nVA 1\r\n2\r\nNF O1 kn5\r\n" },
  { "arith-errors",
    "ma\r\nma k MX\r\nma k Dabc\r\nma k D-1\r\nma k Jx\r\nma k v v\r\nma k zz\r\nma k O123456789012345678901234567890123\r\nma k a b c d e f g h i j k l m n o p q r\r\n",
    "ERROR\r\nCLIENT_ERROR invalid mode for ma M token\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR opaque token too long\r\nCLIENT_ERROR options flags too long\r\n" },
  { "stale-arith-and-append",
    "ms ap 1\r\na\r\nmd ap I\r\nms ap 1 MA\r\nb\r\nmg ap v\r\nma zz N0 J1 v\r\nmd zz I\r\nma zz v\r\nmg zz v\r\n",
    "HD\r\nHD\r\nHD\r\nVA 2\r\nab\r\nVA 1\r\n1\r\nHD\r\nVA 1\r\n2\r\nVA 1 X W\r\n2\r\n" },
  { "debug-and-noop",
    "ms k1 3\r\nabc\r\nme k1\r\nmg k1\r\nme k1\r\nme nok\r\nme\r\nmn\r\nmn extra\r\nmx\r\nm\r\nms k2 1 T100\r\nx\r\nme k2\r\n",
    "HD\r\nME k1 exp=-1 la=0 cas=1 fetch=no cls=1 size=64\r\nHD\r\nME k1 exp=-1 la=0 cas=1 fetch=yes cls=1 size=64\r\nEN\r\nCLIENT_ERROR bad command line format\r\nMN\r\nMN\r\nERROR\r\nERROR\r\nHD\r\nME k2 exp=-100 la=0 cas=2 fetch=no cls=1 size=62\r\n" },
  { "key-limits",
    "ms kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 1\r\nx\r\nmg kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk v\r\nmg kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk v\r\nms kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 1\r\nx\r\nmd kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\nma kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\nme kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\n",
    "HD\r\nVA 1\r\nx\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n" },
  { "flags-after-1.6.18",
    "ms e1 1 E5\r\nx\r\nmg e1 E5\r\nmd e1 E5\r\nma e1 E5\r\nms e1 1 MI\r\nx\r\nmg e1\r\n",
    "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid mode for ms M token\r\nEN\r\n" },
  { "ignored-flags",
    "ms k 1 P L\r\nx\r\nmg k P L v\r\nmd k P L\r\nmg k\r\n",
    "HD\r\nVA 1\r\nx\r\nHD\r\nEN\r\n" },
  { "opaque-limit",
    "ms k 1 O1234567890123456789012345678901\r\nx\r\nmg k O1234567890123456789012345678901\r\nmg nok O1234567890123456789012345678901\r\nma k O1234567890123456789012345678901\r\nmd k O1234567890123456789012345678901\r\nmn\r\n",
    "HD O1234567890123456789012345678901\r\nHD O1234567890123456789012345678901\r\nEN O1234567890123456789012345678901\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nHD O1234567890123456789012345678901\r\nMN\r\n" },
  { "opaque-too-long-after-acting",
    /* memcached notices an opaque over 32 bytes as it writes mg's and ma's
     * reply: the vivify and the arithmetic have happened, no win token
     * was marked */
    "mg lk N30 Oooooooooooooooooooooooooooooooooo\r\nmg lk s\r\nma lc N0 J5 Oooooooooooooooooooooooooooooooooo\r\nma lc v\r\nmg lk2 Oooooooooooooooooooooooooooooooooo\r\n",
    "CLIENT_ERROR opaque token too long\r\nHD s0\r\nCLIENT_ERROR opaque token too long\r\nVA 1\r\n6\r\nCLIENT_ERROR opaque token too long\r\n" },
  { "error-before-long-opaque-pipelined",
    /* ma's own error stands before an opaque too long, also when other
     * replies wait before it in the same output */
    "set n 0 0 1\r\nx\r\nmn\r\nma n Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nmn\r\n"
    "ma missing Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nmg n v Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
    "STORED\r\nMN\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nMN\r\n"
    "CLIENT_ERROR opaque token too long\r\nCLIENT_ERROR opaque token too long\r\n" },
  { "base64-key-kept-by-ma-in-place",
    /* ma rewrites a counter whose digits fit in place: the key stays a
     * base64 one (k answers it encoded, with b) */
    "ms bnVt 1 b\r\n5\r\nma bnVt b\r\nmg bnVt b k v\r\n",
    "HD\r\nHD\r\nVA 1 kbnVt b\r\n6\r\n" },
  { "set-mode-before-opaque",
    /* ms finds a bad M mode before an opaque too long (found by
     * braid-difftest --meta) */
    "ms k0 3 Ms O0123456789012345678901234567890123456789\r\n 12\r\nms k0 3 MS O0123456789012345678901234567890123456789\r\n 12\r\nmn\r\n",
    "CLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR opaque token too long\r\nMN\r\n" },
  { "base64-alphabet-ends",
    /* '+' and '/' are the alphabet's last two letters (62, 63), 'a' 'z'
     * 'A' 'Z' '0' '9' the ends of its ranges; '-' and '_' are not in it
     * (observed from memcached 1.6.18, 2026-11-30) */
    "ms +/+/ 1 b\r\nx\r\nmg +/+/ b k v\r\nmg +/+A b k\r\nmg -_-_ b k\r\nmg aaaa b k\r\nmg zz09 b k\r\nmg AZaz b k\r\nmn\r\n",
    "HD\r\nVA 1 k+/+/ b\r\nx\r\nEN k+/+A b\r\nCLIENT_ERROR error decoding key\r\nEN kaaaa b\r\nEN kzz09 b\r\nEN kAZaz b\r\nMN\r\n" },
  { "flag-bytes-at-the-edge",
    /* a flag byte of 127 or more is "duplicate", 126 merely invalid
     * (observed from memcached 1.6.18, 2026-11-30) */
    "mg k \x7f\r\nmg k \x7e\r\nmn\r\n",
    "CLIENT_ERROR duplicate flag\r\nCLIENT_ERROR invalid flag\r\nMN\r\n" },
  { "numbers-at-their-limits",
    /* T keeps 32 bits (4294967396 is 100), F keeps 32 bits of a 64-bit
     * number, a sign alone is no number, "-0" is 0 (observed from
     * memcached 1.6.18, 2026-11-30) */
    "ms w 1 T4294967396\r\nx\r\nmg w t\r\nms f 1 F4294967295\r\nx\r\nmg f f\r\nms f 1 F18446744073709551615\r\nx\r\nmg f f\r\n"
    "ms f 1 F18446744073709551616\r\nx\r\nmg f f\r\nma n N0 J18446744073709551616\r\nma n D18446744073709551616\r\n"
    "mg f C-1\r\nmg f T+5 t\r\nmg f T- t\r\nmg f T-0 t\r\nmn\r\n",
    "HD\r\nHD t100\r\nHD\r\nHD f4294967295\r\nHD\r\nHD f4294967295\r\nCLIENT_ERROR bad command line format\r\n"
    "HD f4294967295\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n"
    "CLIENT_ERROR bad token in command line format\r\nHD t5\r\nCLIENT_ERROR bad token in command line format\r\nHD t-1\r\nMN\r\n" },
  { "vivified-not-fetched-after-opaque-error",
    /* an mg that vivified and then stopped at an opaque too long leaves
     * the item unfetched; one that found it has fetched it (found by
     * braid-difftest --meta, seed 13168) */
    "mg v2 N0 s O0123456789012345678901234567890123456789\r\nmg v2 h\r\nms v3 1\r\nx\r\nmg v3 s O0123456789012345678901234567890123456789\r\nmg v3 h\r\n",
    "CLIENT_ERROR opaque token too long\r\nHD h0\r\nHD\r\nCLIENT_ERROR opaque token too long\r\nHD h1\r\n" },
};

