/*
 * table.c: the human-readable output of geoworkerctl: JSON rows printed as
 * columns aligned under a header, like ps(1) or postqueue -p.
 *
 * NOTES
 *   A column names a key of the row objects and how to show its value; a
 *   missing or null value shows as "-".  Cells are formatted twice (once to
 *   measure, once to print) rather than kept, which is cheap for the few
 *   hundred rows a terminal shows.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CELLLEN	256

/*
 * table_cell: the text of column col for row, in buf.  Timestamps lose their
 * fraction and time zone ("2026-11-29 14:10:17"); text is cut to col->max
 * characters and its line breaks become spaces.
 */
char *
table_cell(const struct ctl_col *col, json_t *row, char *buf, size_t len)
{
	json_t		*v = json_object_get(row, col->key);
	const char	*s;
	char		*p;

	if (v == NULL || json_is_null(v)) {
		strlcpy(buf, "-", len);
		return buf;
	}
	switch (col->kind) {
	case COL_INT:
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		break;
	case COL_PROGRESS:
		snprintf(buf, len, "%.0f%%", json_number_value(v) * 100);
		break;
	case COL_SECONDS:
		snprintf(buf, len, "%.1f s", json_number_value(v));
		break;
	case COL_BYTES:
		format_size((uint64_t)json_integer_value(v), buf, len);
		break;
	case COL_TIME:
		s = json_string_value(v);
		strlcpy(buf, s ? s : "-", len);
		if (strlen(buf) > 19)
			buf[19] = '\0';
		if ((p = strchr(buf, 'T')) != NULL)
			*p = ' ';
		break;
	case COL_TEXT:
		if (json_is_string(v))
			strlcpy(buf, json_string_value(v), len);
		else if (json_is_boolean(v))
			strlcpy(buf, json_is_true(v) ? "yes" : "no", len);
		else if (json_is_integer(v))
			snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		else {
			p = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			strlcpy(buf, p ? p : "?", len);
			free(p);
		}
		for (p = buf; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
		break;
	}
	if (col->max > 3 && strlen(buf) > (size_t)col->max && len > (size_t)col->max) {
		buf[col->max - 3] = '\0';
		strlcat(buf, "...", len);
	}
	return buf;
}

/* table_print: the header, then one line per element of the array rows. */
void
table_print(const struct ctl_col *cols, size_t ncols, json_t *rows)
{
	size_t	 i, j, *width, n;
	char	 cell[CELLLEN];
	json_t	*row;

	if ((width = calloc(ncols, sizeof(*width))) == NULL) {
		ctl_warnx("out of memory");
		return;
	}
	for (j = 0; j < ncols; j++)
		width[j] = strlen(cols[j].head);
	json_array_foreach(rows, i, row)
		for (j = 0; j < ncols; j++) {
			n = strlen(table_cell(&cols[j], row, cell, sizeof(cell)));
			if (n > width[j])
				width[j] = n;
		}
	for (j = 0; j < ncols; j++)
		printf("%-*s%s", j + 1 < ncols ? (int)width[j] : 0, cols[j].head,
		    j + 1 < ncols ? "  " : "\n");
	json_array_foreach(rows, i, row)
		for (j = 0; j < ncols; j++) {
			table_cell(&cols[j], row, cell, sizeof(cell));
			/* Numbers right-aligned, text left-aligned. */
			if (cols[j].kind == COL_TEXT || cols[j].kind == COL_TIME)
				printf("%-*s", j + 1 < ncols ? (int)width[j] : 0,
				    cell);
			else
				printf("%*s", (int)width[j], cell);
			fputs(j + 1 < ncols ? "  " : "\n", stdout);
		}
	free(width);
}
