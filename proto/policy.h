/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "note.h"

/*
 * Two pure text parsers for witnessing (FORMAT.md, "Witnesses"):
 *
 * 1. A C2SP tlog-policy file (what the client requires, what gpuhoursd
 *    pushes to):
 *      log <vkey> [<url>]
 *      witness <name> <cosigner vkey, type 0x04> [<url>]
 *      group <name> all|any|<k> <member>...
 *      quorum <name>|none
 *    Fields are separated by spaces or tabs; blank lines and lines whose
 *    first non-blank byte is '#' are ignored. A name is defined once, before
 *    any use; the keywords log, witness, group, quorum, all, any and none are
 *    not names; a group lists each member at most once and 1 <= k <= n; a
 *    key appears once; exactly one quorum line.
 *
 * 2. A witness network log list (logs/v0): a "logs/v0" header, then per log
 *      vkey <Ed25519 vkey, type 0x01>
 *      [origin <origin>]   (default: the vkey's name)
 *      qpd <1..2^31-1>
 *      contact <text>
 *    Lines are trimmed; blank lines and '#' lines are ignored.
 *
 * Both fail on the first bad line with a one-line message naming the line
 * number and quoting (a bounded, sanitised prefix of) the bad value.
 */

#define POLICY_MAX_BYTES (256u * 1024u)
#define POLICY_LINE_MAX 4096u
#define POLICY_MAX_LOGS 64u
#define POLICY_MAX_WITNESSES 64u
#define POLICY_MAX_GROUPS 64u
#define POLICY_MAX_MEMBERS 64u
#define POLICY_NAME_MAX 64u
#define POLICY_URL_MAX 512u
#define POLICY_REF_GROUP 0x8000u /* a member reference with this bit is a group index */

struct policy_witness {
        char name[POLICY_NAME_MAX + 1];
        struct note_verifier key; /* cosigner key (type 0x04) */
        char url[POLICY_URL_MAX + 1]; /* submission prefix, "" if none */
};

struct policy_group {
        char name[POLICY_NAME_MAX + 1];
        unsigned k, n;
        uint16_t member[POLICY_MAX_MEMBERS];
};

struct policy {
        size_t nlogs;
        struct note_verifier logs[POLICY_MAX_LOGS];
        size_t nwitnesses;
        struct policy_witness witness[POLICY_MAX_WITNESSES];
        size_t ngroups;
        struct policy_group group[POLICY_MAX_GROUPS];
        bool quorum_none;  /* "quorum none" */
        uint16_t quorum;   /* member reference, unless quorum_none */
};

/* 0, or GH_E_MALFORMED / GH_E_TOO_LARGE with a message in err. */
int policy_parse(const char *text, size_t len, struct policy *out, char *err, size_t errlen);
/* Whether the witnesses marked in ok[0..nwitnesses) satisfy the quorum. */
bool policy_satisfied(const struct policy *p, const bool *ok);

#define LOGLIST_MAX_LOGS 4096u
#define LOGLIST_CONTACT_MAX 255u

struct loglist_entry {
        struct note_verifier key; /* the log's Ed25519 key */
        char origin[NOTE_NAME_MAX + 1];
        uint32_t qpd;
        char contact[LOGLIST_CONTACT_MAX + 1];
};

/* *out is malloc'd (*n entries, possibly 0). 0, -ENOMEM, or a status with a message. */
int loglist_parse(const char *text, size_t len, struct loglist_entry **out, size_t *n, char *err,
                  size_t errlen);
