/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "source.h"
#include "util.h"

static void pin_fail(struct source *s, const char *msg) {
        s->status = SRC_FAILED;
        snprintf(s->error, sizeof(s->error), "%s: %s", finding_kind_name(FIND_KEY_MISMATCH), msg);
        struct finding *f = realloc(s->integrity, (s->nintegrity + 1) * sizeof(*f));
        if (!f)
                return; /* the status and the error line still say it */
        s->integrity = f;
        f[s->nintegrity++] = finding_make(FIND_KEY_MISMATCH, "%s", msg);
}

void fleet_pin_sources(struct source *srcs, const struct fleet *f) {
        for (size_t i = 0; i < f->n; i++) {
                struct source *s = &srcs[i];
                const struct fleet_node *nd = &f->nodes[i];
                if (s->status == SRC_ERROR || s->status == SRC_FAILED || !s->have_checkpoint)
                        continue; /* already not verified, and said why */
                char msg[900], qo[NOTE_NAME_MAX + 3], qp[NOTE_NAME_MAX + 3];
                quote_bytes(s->cp.origin, strlen(s->cp.origin), qo, sizeof(qo));
                quote_bytes(nd->key.name, strlen(nd->key.name), qp, sizeof(qp));
                if (strcmp(s->cp.origin, nd->key.name) != 0) {
                        snprintf(msg, sizeof(msg),
                                 "the node serves origin '%s', but the fleet file (line %u) "
                                 "pins origin '%s'",
                                 qo, nd->line, qp);
                        pin_fail(s, msg);
                        continue;
                }
                size_t text_len, which;
                if (!s->note || note_verify(s->note, s->note_len, &nd->key, 1, false, &text_len,
                                            &which) != 0) {
                        snprintf(msg, sizeof(msg),
                                 "the checkpoint of origin '%s' is not signed by the key the "
                                 "fleet file (line %u) pins (key id %08x)",
                                 qp, nd->line, (unsigned)nd->key.key_id);
                        pin_fail(s, msg);
                }
        }
}
