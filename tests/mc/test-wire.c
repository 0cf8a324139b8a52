/* braid — the text protocol's shared rules (mc-wire.h), on their own: the
 * command words of the modes, what an item costs against -I, and which
 * keys may travel. */
#include "test-support.h"
#include "mc-wire.h"
#include "mc-error.h"

#include <string.h>

static void
test_store_mode_names (void)
{
  BraidCriticalCounter counter;

  g_test_summary ("Each storage mode has its command word; past the last mode is refused with a critical");
  g_assert_cmpstr (braid_mc_store_mode_name (BRAID_MC_STORE_MODE_SET), ==, "set");
  g_assert_cmpstr (braid_mc_store_mode_name (BRAID_MC_STORE_MODE_ADD), ==, "add");
  g_assert_cmpstr (braid_mc_store_mode_name (BRAID_MC_STORE_MODE_REPLACE), ==, "replace");
  g_assert_cmpstr (braid_mc_store_mode_name (BRAID_MC_STORE_MODE_APPEND), ==, "append");
  g_assert_cmpstr (braid_mc_store_mode_name (BRAID_MC_STORE_MODE_PREPEND), ==, "prepend");
  g_assert_cmpstr (braid_mc_store_mode_name (BRAID_MC_STORE_MODE_CAS), ==, "cas");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_mode_name (BRAID_MC_STORE_MODE_CAS + 1)));
  braid_test_count_criticals_end (&counter);
}

static void
test_arith_mode_names (void)
{
  BraidCriticalCounter counter;

  g_test_summary ("incr and decr have their command words; any other value is refused with a critical");
  g_assert_cmpstr (braid_mc_arith_mode_name (BRAID_MC_ARITH_MODE_INCR), ==, "incr");
  g_assert_cmpstr (braid_mc_arith_mode_name (BRAID_MC_ARITH_MODE_DECR), ==, "decr");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_arith_mode_name (BRAID_MC_ARITH_MODE_DECR + 1)));
  braid_test_count_criticals_end (&counter);
}

static void
test_item_size (void)
{
  g_test_summary ("An item costs the 48-byte header, its key and a NUL, 4 bytes of flags unless they are 0, "
                  "its value and CRLF, and 8 bytes of cas when cas is on");
  g_assert_cmpuint (braid_mc_item_size (0, 0, 0, FALSE), ==, 48 + 1 + 2);
  g_assert_cmpuint (braid_mc_item_size (1, 0, 0, FALSE), ==, 48 + 1 + 1 + 2);
  g_assert_cmpuint (braid_mc_item_size (10, 0, 100, FALSE), ==, 48 + 10 + 1 + 100 + 2);
  g_assert_cmpuint (braid_mc_item_size (10, 0, 100, TRUE), ==, 48 + 10 + 1 + 100 + 2 + 8);
  g_assert_cmpuint (braid_mc_item_size (10, 1, 100, FALSE), ==, 48 + 10 + 1 + 4 + 100 + 2);
  g_assert_cmpuint (braid_mc_item_size (10, G_MAXUINT32, 100, TRUE), ==, 48 + 10 + 1 + 4 + 100 + 2 + 8);
  g_assert_cmpuint (braid_mc_item_size (250, 7, 1024 * 1024, TRUE), ==, 48 + 250 + 1 + 4 + 1024 * 1024 + 2 + 8);
}

/* @key is refused with BRAID_MC_ERROR_INVALID_ARGUMENT. */
static void
assert_key_refused (const gchar *key)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (braid_mc_validate_key (key, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  g_assert_false (braid_mc_validate_key (key, NULL));
}

static void
assert_key_valid (const gchar *key)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (braid_mc_validate_key (key, &error));
  g_assert_no_error (error);
}

static void
test_key_length (void)
{
  g_autofree gchar *longest = g_strnfill (BRAID_MC_KEY_MAX, 'k');
  g_autofree gchar *too_long = g_strnfill (BRAID_MC_KEY_MAX + 1, 'k');

  g_test_summary ("A key is 1 to 250 bytes: 1 and 250 pass, NULL, empty and 251 are refused");
  assert_key_valid ("k");
  assert_key_valid (longest);
  assert_key_refused (NULL);
  assert_key_refused ("");
  assert_key_refused (too_long);
}

static void
test_key_bytes (void)
{
  g_test_summary ("Space, every control character and DEL are refused at any position; '!', '~' and bytes "
                  "over 0x7f pass");
  for (guint b = 1; b <= ' '; b++)
    {
      gchar first[] = { (gchar) b, 'k', 0 };
      gchar middle[] = { 'k', (gchar) b, 'k', 0 };
      gchar last[] = { 'k', 'k', (gchar) b, 0 };

      assert_key_refused (first);
      assert_key_refused (middle);
      assert_key_refused (last);
    }
  assert_key_refused ("k\x7f");
  assert_key_refused ("\x7fk");
  assert_key_valid ("!");
  assert_key_valid ("~");
  assert_key_valid ("k\x80\xff");
  assert_key_valid ("caf\xc3\xa9:user/1?a=b");
}

static void
test_key_error_says_where (void)
{
  g_autoptr(GError) error = NULL;

  g_test_summary ("The error names the byte refused and its position, or the length refused");
  g_assert_false (braid_mc_validate_key ("ab\tc", &error));
  g_assert_nonnull (strstr (error->message, "0x09 at 2"));
  g_clear_error (&error);
  g_assert_false (braid_mc_validate_key ("", &error));
  g_assert_nonnull (strstr (error->message, "this one is 0"));
}

static void
test_key_error_set_before (void)
{
  BraidCriticalCounter counter;
  g_autoptr(GError) set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set before");

  g_test_summary ("An error already set is refused with a critical and left as it was");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_validate_key ("k", &set)));
  braid_test_count_criticals_end (&counter);
  g_assert_error (set, G_IO_ERROR, G_IO_ERROR_FAILED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/wire/store-mode-names", test_store_mode_names);
  g_test_add_func ("/mc/wire/arith-mode-names", test_arith_mode_names);
  g_test_add_func ("/mc/wire/item-size", test_item_size);
  g_test_add_func ("/mc/wire/key-length", test_key_length);
  g_test_add_func ("/mc/wire/key-bytes", test_key_bytes);
  g_test_add_func ("/mc/wire/key-error-says-where", test_key_error_says_where);
  g_test_add_func ("/mc/wire/key-error-set-before", test_key_error_set_before);
  return g_test_run ();
}
