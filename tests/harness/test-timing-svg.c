/* braid — braid-timing's SVG chart: well-formed XML (parsed with GMarkup),
 * one bar per fetch whose length follows its time, URLs escaped, failures
 * and totals labelled. */
#include "timing-svg.h"

#include <string.h>

/* One parsed element: its name, attributes and the text directly inside. */
typedef struct
{
  gchar *name;
  GHashTable *attributes;  /* (owned) name -> value */
  GString *text;
} SvgElement;

static void
svg_element_free (gpointer data)
{
  SvgElement *e = data;

  g_free (e->name);
  g_hash_table_unref (e->attributes);
  g_string_free (e->text, TRUE);
  g_free (e);
}

typedef struct
{
  GPtrArray *elements;  /* (element-type SvgElement) in document order */
  GPtrArray *open;      /* (element-type SvgElement) (unowned) the element stack */
} SvgDocument;

static void
on_start (GMarkupParseContext *context, const gchar *name, const gchar **attribute_names,
          const gchar **attribute_values, gpointer user_data, GError **error)
{
  SvgDocument *doc = user_data;
  SvgElement *e = g_new0 (SvgElement, 1);

  e->name = g_strdup (name);
  e->attributes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  e->text = g_string_new (NULL);
  for (guint i = 0; attribute_names[i] != NULL; i++)
    g_hash_table_insert (e->attributes, g_strdup (attribute_names[i]), g_strdup (attribute_values[i]));
  g_ptr_array_add (doc->elements, e);
  g_ptr_array_add (doc->open, e);
}

static void
on_end (GMarkupParseContext *context, const gchar *name, gpointer user_data, GError **error)
{
  SvgDocument *doc = user_data;

  g_ptr_array_remove_index (doc->open, doc->open->len - 1);
}

static void
on_text (GMarkupParseContext *context, const gchar *text, gsize len, gpointer user_data,
         GError **error)
{
  SvgDocument *doc = user_data;

  if (doc->open->len > 0)
    g_string_append_len (((SvgElement *) g_ptr_array_index (doc->open, doc->open->len - 1))->text,
                         text, (gssize) len);
}

static const GMarkupParser svg_parser = {
  .start_element = on_start,
  .end_element = on_end,
  .text = on_text,
};

/* Parses @svg, failing the test if it is not well-formed XML. */
static SvgDocument *
parse_svg (const gchar *svg)
{
  SvgDocument *doc = g_new0 (SvgDocument, 1);
  g_autoptr(GMarkupParseContext) context = NULL;
  g_autoptr(GError) error = NULL;

  doc->elements = g_ptr_array_new_with_free_func (svg_element_free);
  doc->open = g_ptr_array_new ();
  context = g_markup_parse_context_new (&svg_parser, G_MARKUP_PREFIX_ERROR_POSITION, doc, NULL);
  g_markup_parse_context_parse (context, svg, -1, &error);
  g_assert_no_error (error);
  g_markup_parse_context_end_parse (context, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (doc->open->len, ==, 0);
  return doc;
}

static void
svg_document_free (SvgDocument *doc)
{
  g_ptr_array_unref (doc->elements);
  g_ptr_array_unref (doc->open);
  g_free (doc);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SvgDocument, svg_document_free)

static const gchar *
attribute (const SvgElement *e, const gchar *name)
{
  return g_hash_table_lookup (e->attributes, name);
}

static gboolean
has_class (const SvgElement *e, const gchar *class_name)
{
  return g_strcmp0 (attribute (e, "class"), class_name) == 0;
}

/* The elements named @name with class @class_name, in document order. */
static GPtrArray *
find_all (const SvgDocument *doc, const gchar *name, const gchar *class_name)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < doc->elements->len; i++)
    {
      SvgElement *e = g_ptr_array_index (doc->elements, i);

      if (g_str_equal (e->name, name) && has_class (e, class_name))
        g_ptr_array_add (out, e);
    }
  return out;
}

/* Whether some element's text contains @needle. */
static gboolean
some_text_contains (const SvgDocument *doc, const gchar *needle)
{
  for (guint i = 0; i < doc->elements->len; i++)
    if (strstr (((SvgElement *) g_ptr_array_index (doc->elements, i))->text->str, needle) != NULL)
      return TRUE;
  return FALSE;
}

static gdouble
width_of (const SvgElement *e)
{
  const gchar *w = attribute (e, "width");

  g_assert_nonnull (w);
  return g_ascii_strtod (w, NULL);
}

/* The tutorial's kind of batch: three fetches of 0.2, 0.4 and 0.1 s (one
 * URL needing escapes) and one that failed. */
static const BraidTimingResult batch[] = {
  { "http://127.0.0.1:40215/slow?ms=200&x=<1>", FALSE, 198000, 200000, 9 },
  { "http://127.0.0.1:40215/slow?ms=400", FALSE, 100000, 400000, 9 },
  { "http://127.0.0.1:40215/fast", FALSE, 50000, 100000, 13 },
  { "http://127.0.0.1:1/refused", TRUE, 0, 0, 0 },
};

static void
test_well_formed_with_a_bar_per_fetch (void)
{
  g_autofree gchar *svg = NULL;
  g_autoptr(SvgDocument) doc = NULL;
  g_autoptr(GPtrArray) client_bars = NULL, server_bars = NULL, labels = NULL, failed = NULL;
  SvgElement *root;

  g_test_summary ("The chart parses as XML, its root is an SVG element, and it has one client "
                  "bar and one server bar per fetch that returned a body, the failed one marked");
  svg = braid_timing_svg_render (batch, G_N_ELEMENTS (batch), "braid-timing <test> & co");
  doc = parse_svg (svg);

  root = g_ptr_array_index (doc->elements, 0);
  g_assert_cmpstr (root->name, ==, "svg");
  g_assert_cmpstr (attribute (root, "xmlns"), ==, "http://www.w3.org/2000/svg");
  g_assert_true (some_text_contains (doc, "braid-timing <test> & co"));

  client_bars = find_all (doc, "rect", "client");
  server_bars = find_all (doc, "rect", "server");
  g_assert_cmpuint (client_bars->len, ==, 3);
  g_assert_cmpuint (server_bars->len, ==, 3);
  failed = find_all (doc, "text", "failed");
  g_assert_cmpuint (failed->len, ==, 1);

  labels = find_all (doc, "text", "url");
  g_assert_cmpuint (labels->len, ==, G_N_ELEMENTS (batch));
  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_assert_true (some_text_contains (doc, batch[i].url));
}

static void
test_bar_lengths_follow_the_times (void)
{
  g_autofree gchar *svg = NULL;
  g_autoptr(SvgDocument) doc = NULL;
  g_autoptr(GPtrArray) client_bars = NULL, server_bars = NULL;
  gdouble longest;

  g_test_summary ("Each client bar is as long as its fetch's time on one scale, and each "
                  "server bar is its first-byte time on the same scale");
  svg = braid_timing_svg_render (batch, G_N_ELEMENTS (batch), "t");
  doc = parse_svg (svg);
  client_bars = find_all (doc, "rect", "client");
  server_bars = find_all (doc, "rect", "server");
  g_assert_cmpuint (client_bars->len, ==, 3);

  longest = width_of (g_ptr_array_index (client_bars, 1));
  g_assert_cmpfloat (longest, >, 100.0);
  for (guint i = 0; i < 3; i++)
    {
      gdouble scale = longest / (gdouble) batch[1].finished_us;

      g_test_message ("fetch %u", i);
      g_assert_cmpfloat_with_epsilon (width_of (g_ptr_array_index (client_bars, i)),
                                      batch[i].finished_us * scale, 0.5);
      g_assert_cmpfloat_with_epsilon (width_of (g_ptr_array_index (server_bars, i)),
                                      batch[i].first_byte_us * scale, 0.5);
    }
}

static void
test_totals_are_labelled (void)
{
  g_autofree gchar *svg = NULL;
  g_autoptr(SvgDocument) doc = NULL;

  g_test_summary ("Under the bars: the batch's time (the slowest fetch) and the sum a "
                  "one-at-a-time proxy would cost, as the text output prints them");
  svg = braid_timing_svg_render (batch, G_N_ELEMENTS (batch), "t");
  doc = parse_svg (svg);
  g_assert_true (some_text_contains (doc, "all at once (this proxy): 0.400 s"));
  g_assert_true (some_text_contains (doc, "one after another (sum): 0.700 s"));
  g_assert_true (some_text_contains (doc, "0.200 s"));
}

static void
test_no_fetches (void)
{
  const BraidTimingResult only_failed[] = { { "http://a/", TRUE, 0, 0, 0 } };
  g_autofree gchar *empty = NULL, *failed = NULL;
  g_autoptr(SvgDocument) empty_doc = NULL, failed_doc = NULL;
  g_autoptr(GPtrArray) bars = NULL;

  g_test_summary ("No results, or only failures, still make a well-formed chart without bars "
                  "(no division by a zero time)");
  empty = braid_timing_svg_render (NULL, 0, "t");
  empty_doc = parse_svg (empty);
  failed = braid_timing_svg_render (only_failed, 1, "t");
  failed_doc = parse_svg (failed);
  bars = find_all (failed_doc, "rect", "client");
  g_assert_cmpuint (bars->len, ==, 0);
  g_assert_true (some_text_contains (failed_doc, "failed"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/timing-svg/well-formed", test_well_formed_with_a_bar_per_fetch);
  g_test_add_func ("/timing-svg/bar-lengths", test_bar_lengths_follow_the_times);
  g_test_add_func ("/timing-svg/totals", test_totals_are_labelled);
  g_test_add_func ("/timing-svg/no-fetches", test_no_fetches);
  return g_test_run ();
}
