/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyze.h"
#include "source.h"

/*
 * Every JSON document the client prints (verify, report, attest, check) is one
 * object of schema JSON_SCHEMA, specified in proto/JSON.md: the same envelope
 * (schema, command, generated, verdict, exit, ..., sources, findings), the same
 * source object for every source named on the command line (failed and
 * unreachable ones included), instants as RFC 3339 UTC with milliseconds.
 * Key order is fixed. Additive fields keep the schema name; anything else (a
 * renamed, removed or retyped field, a changed unit or meaning) changes it.
 */
#define JSON_SCHEMA "gpuhours/1"

/* RFC 3339 UTC with milliseconds (truncated): "2026-11-26T12:00:00.000Z". */
json_t *jout_time(uint64_t ns);

/*
 * The envelope's head: {"schema", "command", "generated"} (generated: now_ns).
 * NULL when out of memory.
 */
json_t *jout_doc(const char *command, uint64_t now_ns);

/*
 * The source object's identity and analysis, without "findings":
 * source, origin, status, error, tree_size, then the analysis fields (null
 * when an is NULL). name and origin are quoted like every untrusted string;
 * origin, error NULL or "": null; size_known false: tree_size null.
 * Sets *bad on allocation failure.
 */
json_t *jout_source_head(const char *name, const char *origin, const char *status,
                         const char *error, bool size_known, uint64_t size,
                         const struct analysis *an, bool *bad);

/*
 * An untrusted string (a name given on the command line or signed by a node)
 * with every byte outside 0x20..0x7e as '?' (quote_bytes), at most max bytes;
 * null for NULL or "".
 */
json_t *jout_quoted(const char *s, size_t max);

/* One finding object; an (for the GPU names) may be NULL. */
json_t *jout_finding(const struct finding *f, const struct analysis *an, bool *bad);

/* The complete source object of a verified (or failed) source, "findings" last. */
json_t *jout_source(const struct source *s, bool *bad);

/* "verdict" (the worst status) and "exit" of srcs, set on doc. */
void jout_verdict(json_t *doc, const struct source *srcs, size_t n, bool *bad);

/* json_object_set_new that sets *bad when v is NULL or the set fails. */
void jout_set(json_t *o, const char *key, json_t *v, bool *bad);

/*
 * Writes doc (2-space indent, key order kept, a final newline) and drops the
 * reference. 0, -ENOMEM when bad, -EIO when writing failed.
 */
int jout_write(FILE *out, json_t *doc, bool bad);

/* `verify --json`: the envelope with command "verify". 0, -ENOMEM or -EIO. */
int jout_verify(FILE *out, const struct source *srcs, size_t n, uint64_t now_ns);

/*
 * `report --format json`: the envelope with command "report", "by", every
 * source object with its "buckets" (null for a source that did not verify)
 * and the fleet "total" of the reported sources. buckets NULL: each reported
 * source's buckets from its analyzer; else buckets[i], made beforehand with
 * report_buckets_json (so that each analyzer can be freed once its buckets
 * are out), is source i's array (taken over, set to NULL), and a source whose
 * entry is NULL counts as not reported. 0, -ENOMEM or -EIO.
 */
int jout_report(FILE *out, const struct source *srcs, size_t n, enum report_by by,
                uint64_t now_ns, json_t **buckets);
