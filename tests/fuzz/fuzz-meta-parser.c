/* braid — fuzz target: the meta command line parser, alone and behind the
 * command parser's framing.  Built as a plain test by driver.c; with
 * -fsanitize=fuzzer it is a libFuzzer target.  (The server behind it is
 * fuzzed by fuzz-server-protocol, whose corpus holds meta sessions too.) */
#include "mc-command-parser.h"
#include "mc-meta-parser-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

/* What holds for any line the meta parser accepts. */
static void
check_command (const guint8 *line, gsize len, const BraidMcMetaCommand *cmd)
{
  g_assert_cmpuint (cmd->n_flags, <=, BRAID_MC_META_MAX_FLAGS);
  g_assert_cmpuint (cmd->key_len, <=, BRAID_MC_KEY_MAX);
  if (cmd->key_binary)
    g_assert_true (cmd->key == cmd->key_buf);
  else if (cmd->key_len > 0)
    g_assert_true (cmd->key >= line && cmd->key + cmd->key_len <= line + len);
  for (guint i = 0; i < cmd->n_flags; i++)
    {
      g_assert_true (cmd->flags[i].token >= line && cmd->flags[i].token + cmd->flags[i].len <= line + len);
      g_assert_true (braid_mc_meta_has_flag (cmd, (gchar) cmd->flags[i].token[0]));
      /* an opaque too long is refused, or (mg, ma) flagged for the
       * server to refuse once it has acted */
      if (cmd->flags[i].token[0] == 'O' && cmd->flags[i].len > BRAID_MC_META_OPAQUE_MAX)
        g_assert_true (cmd->opaque_too_long &&
                       (cmd->type == BRAID_MC_META_GET || cmd->type == BRAID_MC_META_ARITH));
    }
}

/* Each line of the input, as a meta line. */
static void
fuzz_lines (const guint8 *data, gsize size)
{
  gsize start = 0;

  while (start < size)
    {
      const guint8 *nl = memchr (data + start, '\n', size - start);
      gsize len = nl != NULL ? (gsize) (nl - (data + start)) : size - start;
      const guint8 *line = data + start;
      BraidMcMetaCommand cmd;
      const gchar *reply;
      gsize swallow;

      if (braid_mc_meta_is_command (line, len))
        {
          if (braid_mc_meta_parse (line, len, &cmd, &reply, &swallow))
            check_command (line, len, &cmd);
          else
            {
              g_assert_nonnull (reply);
              g_assert_true (g_str_has_suffix (reply, "\r\n"));
            }
        }
      start += len + 1;
    }
}

/* The whole input through the command parser, as a connection frames it. */
static void
fuzz_framing (const guint8 *data, gsize size)
{
  BraidMcParser parser = BRAID_MC_PARSER_INIT;
  gsize offset = 0, swallow = 0;

  parser.item_size_max = 4096;
  while (offset < size)
    {
      BraidMcCommand cmd;
      gsize used;

      if (swallow > 0)
        {
          gsize n = MIN (swallow, size - offset);

          swallow -= n;
          offset += n;
          continue;
        }
      used = braid_mc_parse_command (&parser, data + offset, size - offset, FALSE, &cmd);
      if (used == 0)
        break;
      g_assert (used <= size - offset);
      if (cmd.has_data_block)
        g_assert (cmd.value + cmd.value_len + 2 <= data + size);
      if (cmd.type == BRAID_MC_COMMAND_BAD_INPUT || cmd.type == BRAID_MC_COMMAND_META)
        swallow = cmd.swallow;
      offset += used;
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  fuzz_lines (data, size);
  fuzz_framing (data, size);
  return 0;
}
