/* braid — braid-timing's SVG chart (timing-svg.h).
 *
 * One row per URL: its label on the left, then a light bar as long as the
 * client time (until the proxy closed) with a dark bar inside as long as
 * the server time (until the first body byte); a dashed line marks when
 * the whole batch was done.  Every string from outside (URLs, the title)
 * goes through g_markup_printf_escaped, and every number through
 * g_ascii_formatd, so the output is well-formed XML in any locale. */
#include "timing-svg.h"

#include <math.h>

#define CHART_WIDTH 900
#define MARGIN 20
#define LABEL_WIDTH 330
#define PLOT_X (MARGIN + LABEL_WIDTH)
#define PLOT_WIDTH 420.0
#define HEADER_HEIGHT 80
#define ROW_HEIGHT 26
#define BAR_HEIGHT 16
#define LABEL_MAX_CHARS 50
#define CLIENT_COLOUR "#a0cbe8"
#define SERVER_COLOUR "#4e79a7"

/* A number as text with a '.' whatever the locale; @format is printf's. */
typedef struct
{
  gchar text[G_ASCII_DTOSTR_BUF_SIZE];
} Number;

static Number
number (const gchar *format, gdouble value)
{
  Number n;

  g_ascii_formatd (n.text, sizeof n.text, format, value);
  return n;
}

static Number
seconds_text (gint64 us)
{
  return number ("%.3f", (gdouble) us / G_USEC_PER_SEC);
}

/* Appends g_markup_printf_escaped's result: every %s argument escaped. */
G_GNUC_PRINTF (2, 3) static void
append_escaped (GString *out, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *text = NULL;

  va_start (args, format);
  text = g_markup_vprintf_escaped (format, args);
  va_end (args);
  g_string_append (out, text);
}

/* The time axis ends at the slowest fetch (at least 1 µs: no division by 0). */
static gint64
slowest_fetch (const BraidTimingResult *results, guint n_results)
{
  gint64 slowest = 1;

  for (guint i = 0; i < n_results; i++)
    if (!results[i].failed)
      slowest = MAX (slowest, results[i].finished_us);
  return slowest;
}

/* A round tick interval (1, 2 or 5 times a power of ten seconds) giving
 * at most about five ticks up to @slowest_us. */
static gdouble
tick_step_seconds (gint64 slowest_us)
{
  gdouble raw = (gdouble) slowest_us / G_USEC_PER_SEC / 5.0;
  gdouble magnitude = pow (10.0, floor (log10 (raw)));

  if (raw <= magnitude)
    return magnitude;
  if (raw <= 2 * magnitude)
    return 2 * magnitude;
  if (raw <= 5 * magnitude)
    return 5 * magnitude;
  return 10 * magnitude;
}

static void
append_header (GString *out, const gchar *title, guint height)
{
  append_escaped (out,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%s\" height=\"%s\" "
                  "viewBox=\"0 0 %s %s\" font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text class=\"title\" x=\"%d\" y=\"28\" font-size=\"18\" font-weight=\"bold\">%s</text>\n",
                  number ("%.0f", CHART_WIDTH).text, number ("%.0f", height).text,
                  number ("%.0f", CHART_WIDTH).text, number ("%.0f", height).text, MARGIN, title);
  append_escaped (out,
                  "<rect class=\"legend-swatch\" x=\"%d\" y=\"44\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                  "<text class=\"legend\" x=\"%d\" y=\"55\">server time (until the first body byte)</text>\n"
                  "<rect class=\"legend-swatch\" x=\"%d\" y=\"44\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                  "<text class=\"legend\" x=\"%d\" y=\"55\">client time (until the proxy closed)</text>\n",
                  MARGIN, SERVER_COLOUR, MARGIN + 18, MARGIN + 290, CLIENT_COLOUR, MARGIN + 308);
}

/* The URL, shortened to LABEL_MAX_CHARS characters, the whole of it in a
 * <title> (a browser shows it on hover). */
static void
append_url_label (GString *out, const gchar *url, gdouble y)
{
  g_autofree gchar *shown = NULL;

  if (g_utf8_validate (url, -1, NULL) && g_utf8_strlen (url, -1) > LABEL_MAX_CHARS)
    {
      g_autofree gchar *start = g_utf8_substring (url, 0, LABEL_MAX_CHARS - 1);

      shown = g_strconcat (start, "…", NULL);
    }
  else
    shown = g_utf8_make_valid (url, -1);
  append_escaped (out, "<text class=\"url\" x=\"%d\" y=\"%s\"><title>%s</title>%s</text>\n", MARGIN,
                  number ("%.1f", y + BAR_HEIGHT - 4).text, url, shown);
}

static void
append_row (GString *out, const BraidTimingResult *r, gdouble y, gdouble px_per_us)
{
  Number client_width = number ("%.1f", (gdouble) r->finished_us * px_per_us);
  Number bar_y = number ("%.1f", y);
  Number text_y = number ("%.1f", y + BAR_HEIGHT - 4);

  append_url_label (out, r->url, y);
  if (r->failed)
    {
      append_escaped (out, "<text class=\"failed\" x=\"%d\" y=\"%s\" fill=\"#c00\">failed</text>\n", PLOT_X,
                      text_y.text);
      return;
    }
  append_escaped (out,
                  "<rect class=\"client\" x=\"%d\" y=\"%s\" width=\"%s\" height=\"%d\" fill=\"%s\">"
                  "<title>client time %s s</title></rect>\n",
                  PLOT_X, bar_y.text, client_width.text, BAR_HEIGHT, CLIENT_COLOUR,
                  seconds_text (r->finished_us).text);
  if (r->bytes > 0)
    append_escaped (out,
                    "<rect class=\"server\" x=\"%d\" y=\"%s\" width=\"%s\" height=\"%d\" fill=\"%s\">"
                    "<title>server time %s s</title></rect>\n",
                    PLOT_X, bar_y.text, number ("%.1f", (gdouble) r->first_byte_us * px_per_us).text,
                    BAR_HEIGHT, SERVER_COLOUR, seconds_text (r->first_byte_us).text);
  append_escaped (out, "<text class=\"time\" x=\"%s\" y=\"%s\">%s s%s</text>\n",
                  number ("%.1f", PLOT_X + (gdouble) r->finished_us * px_per_us + 6).text, text_y.text,
                  seconds_text (r->finished_us).text, r->bytes > 0 ? "" : ", no body");
}

/* Vertical gridlines with their times under the rows, from 0 to the
 * slowest fetch. */
static void
append_time_axis (GString *out, gdouble top, gdouble bottom, gint64 slowest_us, gdouble px_per_us)
{
  gdouble step = tick_step_seconds (slowest_us);

  for (guint k = 0; k * step * G_USEC_PER_SEC <= slowest_us * 1.0001; k++)
    {
      Number x = number ("%.1f", PLOT_X + k * step * G_USEC_PER_SEC * px_per_us);

      append_escaped (out,
                      "<line class=\"grid\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"/>"
                      "<text class=\"tick\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#555\">%s s</text>\n",
                      x.text, number ("%.1f", top).text, x.text, number ("%.1f", bottom).text,
                      k == 0 ? "#333" : "#ddd", x.text, number ("%.1f", bottom + 14).text,
                      number ("%g", k * step).text);
    }
}

/* The dashed line where the batch ended, and the two totals braid-timing
 * prints: the batch's time against a one-at-a-time proxy's sum. */
static void
append_totals (GString *out, const BraidTimingResult *results, guint n_results, gdouble top,
               gdouble bottom, gdouble px_per_us)
{
  gint64 end = 0, sum = 0;

  for (guint i = 0; i < n_results; i++)
    if (!results[i].failed)
      {
        end = MAX (end, results[i].finished_us);
        sum += results[i].finished_us;
      }
  if (end > 0)
    {
      Number x = number ("%.1f", PLOT_X + (gdouble) end * px_per_us);

      append_escaped (out,
                      "<line class=\"all-at-once\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#c00\" "
                      "stroke-dasharray=\"4 3\"/>\n",
                      x.text, number ("%.1f", top).text, x.text, number ("%.1f", bottom).text);
    }
  append_escaped (out,
                  "<text class=\"total\" x=\"%d\" y=\"%s\">all at once (this proxy): %s s</text>\n"
                  "<text class=\"total\" x=\"%d\" y=\"%s\">one after another (sum): %s s</text>\n",
                  MARGIN, number ("%.1f", bottom + 40).text, seconds_text (end).text, MARGIN,
                  number ("%.1f", bottom + 58).text, seconds_text (sum).text);
}

gchar *
braid_timing_svg_render (const BraidTimingResult *results, guint n_results, const gchar *title)
{
  GString *out = g_string_new (NULL);
  gint64 slowest_us = slowest_fetch (results, n_results);
  gdouble px_per_us = PLOT_WIDTH / (gdouble) slowest_us;
  gdouble top = HEADER_HEIGHT - 6;
  gdouble bottom = HEADER_HEIGHT + (gdouble) n_results * ROW_HEIGHT;

  append_header (out, title, (guint) bottom + 80);
  for (guint i = 0; i < n_results; i++)
    append_row (out, &results[i], HEADER_HEIGHT + (gdouble) i * ROW_HEIGHT, px_per_us);
  if (n_results == 0)
    append_escaped (out, "<text class=\"empty\" x=\"%d\" y=\"%s\">no fetches</text>\n", MARGIN,
                    number ("%.1f", bottom).text);
  append_time_axis (out, top, bottom, slowest_us, px_per_us);
  append_totals (out, results, n_results, top, bottom, px_per_us);
  g_string_append (out, "</svg>\n");
  return g_string_free (out, FALSE);
}
