/* SPDX-License-Identifier: MIT */
/*
 * gpuhours show: the records of a verified ledger, decoded for a human
 * (one line each, or every field of one record with --record N). Only
 * records whose Merkle root is the verified checkpoint's are shown.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "bundle.h"
#include "cli.h"
#include "merkle.h"
#include "output.h"
#include "record.h"
#include "source.h"
#include "status.h"
#include "util.h"

static const char show_help[] =
        "usage: " PROG " show [--record N] [--key VKEY]... [--trusted-keys FILE] [--no-state]\n"
        "                     [--timeout SECONDS] [--] SOURCE\n"
        "\n"
        "Verifies SOURCE (a node URL or a bundle file) as '" PROG " verify' does, then\n"
        "prints its records decoded, one line each, numbered from 0 as findings number\n"
        "them; with --record N every field of record N, GPU by GPU. The verification\n"
        "result goes to stderr. Nothing is shown from a source that did not verify.\n"
        "\n"
        "  --record N        show record N (0 .. tree size - 1) in full\n"
        "\n"
        "Other options as for verify. Exit: as for verify; 3 if N is out of range.\n";

static void iso(uint64_t ns, char *out, size_t cap) { time_format_iso(ns, true, out, cap); }

/* v / 1000 with three decimals, without floating point. */
static void milli(FILE *out, uint64_t v) {
        fprintf(out, "%" PRIu64 ".%03" PRIu64, v / 1000u, v % 1000u);
}

static void flag_names(FILE *out, unsigned flags, const char *const *names, unsigned nnames) {
        bool first = true;
        for (unsigned b = 0; b < nnames; b++) {
                if (!(flags & (1u << b)))
                        continue;
                fprintf(out, "%s%s", first ? "" : ",", names[b]);
                first = false;
        }
        if (first)
                fputs("none", out);
}

static const char *const gpu_flag_names[] = {
        "energy-unsupported", "energy-from-power", "util-unsupported", "counter-reset",
        "lost",               "procs-unsupported", "power-unsupported", "mem-unsupported",
};
static const char *const inv_reason_names[] = {
        "gpu-appeared", "gpu-vanished", "gpu-reset", "driver-changed", "reinit",
};

static const char *mig_name(uint8_t m) {
        return m == MIG_OFF ? "off" : m == MIG_ON ? "on" : "unknown";
}

/* Sum of busy and energy over a summary's GPUs. */
static void summary_totals(const struct rec_summary *s, uint64_t *busy_ms, uint64_t *energy_mj) {
        *busy_ms = *energy_mj = 0;
        for (uint32_t i = 0; i < s->gpu_count; i++) {
                *busy_ms += s->gpus[i].busy_ms;
                *energy_mj += s->gpus[i].energy_used_mj;
        }
}

static void show_line(FILE *out, uint64_t index, const struct record *r) {
        char t[40], a[40], b[40];
        iso(r->wall_ns, t, sizeof t);
        const char *kind = record_kind_name(r->kind);
        fprintf(out, "#%-6" PRIu64 " %-10s %s  ", index, kind ? kind : "?", t);
        switch (r->kind) {
        case REC_START: {
                const struct rec_start *s = &r->u.start;
                fprintf(out, "started: %s, %" PRIu32 " GPU(s), period %" PRIu32 " s, sample every ",
                        s->backend, s->gpu_count, s->period_s);
                milli(out, s->sample_interval_us / 1000u);
                fprintf(out, " s, gpuhoursd %s, boot %02x%02x%02x%02x\n", s->daemon_version,
                        r->boot_id[0], r->boot_id[1], r->boot_id[2], r->boot_id[3]);
                break;
        }
        case REC_SUMMARY: {
                const struct rec_summary *s = &r->u.summary;
                uint64_t busy, energy;
                summary_totals(s, &busy, &energy);
                iso(s->obs_start_wall_ns, a, sizeof a);
                iso(s->obs_end_wall_ns, b, sizeof b);
                uint64_t obs_ms = s->obs_end_boot_ns > s->obs_start_boot_ns
                                          ? (s->obs_end_boot_ns - s->obs_start_boot_ns) / 1000000u
                                          : 0;
                fprintf(out, "observed %s .. %s (", a, b);
                milli(out, obs_ms);
                fprintf(out, " s of %" PRIu32 " s%s), %" PRIu32 " GPU(s): busy ", s->period_s,
                        (s->flags & SUMMARY_PARTIAL) ? ", partial" : "", s->gpu_count);
                milli(out, busy);
                fputs(" GPU-s, energy ", out);
                milli(out, energy);
                fputs(" J\n", out);
                break;
        }
        case REC_STOP:
                fprintf(out, "stopped cleanly (%s)\n", r->u.stop.reason);
                break;
        case REC_CLOCK_STEP: {
                const struct rec_clock_step *c = &r->u.clock_step;
                iso(c->prev_wall_ns, a, sizeof a);
                /* The wall clock moved by (wall - prev_wall) - (boot - prev_boot). */
                int64_t dw = (int64_t)(r->wall_ns - c->prev_wall_ns);
                int64_t db = (int64_t)(r->boot_ns - c->prev_boot_ns);
                int64_t step_ms = (dw - db) / 1000000;
                uint64_t mag = step_ms < 0 ? (uint64_t)(-step_ms) : (uint64_t)step_ms;
                fprintf(out, "wall clock stepped %c", step_ms < 0 ? '-' : '+');
                milli(out, mag);
                fprintf(out, " s (last reading before: %s)\n", a);
                break;
        }
        case REC_INVENTORY: {
                const struct rec_inventory *v = &r->u.inventory;
                fputs("GPU set changed (", out);
                flag_names(out, v->reason, inv_reason_names, 5);
                fprintf(out, "), now %" PRIu32 " GPU(s)", v->gpu_count);
                for (uint32_t i = 0; i < v->gpu_count; i++)
                        fprintf(out, "%s%s", i ? ", " : ": ", v->gpus[i].uuid);
                fputc('\n', out);
                break;
        }
        default:
                fputc('\n', out);
        }
}

/* version 2 entries also show their counter epoch (0: unknown) */
static void show_gpu_info(FILE *out, const struct gpu_info *g, uint8_t version) {
        fprintf(out, "  GPU %s\n    name %s, serial %s, PCI %s, MIG %s, flags ", g->uuid, g->name,
                g->serial, g->pci_bus_id, mig_name(g->mig_mode));
        flag_names(out, g->flags, gpu_flag_names, 8);
        fprintf(out, ", energy counter %" PRIu64 " mJ", g->energy_mj);
        if (version >= RECORD_VERSION_EPOCH) {
                if (g->counter_epoch)
                        fprintf(out, ", counter epoch %" PRIu64, g->counter_epoch);
                else
                        fputs(", counter epoch unknown", out);
        }
        fputc('\n', out);
}

static void show_full(FILE *out, uint64_t index, const struct record *r) {
        char t[40], a[40], b[40];
        const char *kind = record_kind_name(r->kind);
        iso(r->wall_ns, t, sizeof t);
        fprintf(out, "record %" PRIu64 ": %s (version %u)\n", index, kind ? kind : "?",
                (unsigned)r->version);
        fprintf(out, "  wall time   %s (%" PRIu64 " ns)\n  boot time   %" PRIu64
                     " ns since boot\n  boot id     ",
                t, r->wall_ns, r->boot_ns);
        for (int i = 0; i < 16; i++)
                fprintf(out, "%02x", r->boot_id[i]);
        fputc('\n', out);
        switch (r->kind) {
        case REC_START: {
                const struct rec_start *s = &r->u.start;
                fprintf(out,
                        "  daemon      gpuhoursd %s, backend %s\n  period      %" PRIu32
                        " s, sample interval %" PRIu32 " us\n  driver      %s, NVML %s\n"
                        "  GPUs        %" PRIu32 "\n",
                        s->daemon_version, s->backend, s->period_s, s->sample_interval_us,
                        s->driver_version[0] ? s->driver_version : "-",
                        s->nvml_version[0] ? s->nvml_version : "-", s->gpu_count);
                for (uint32_t i = 0; i < s->gpu_count; i++)
                        show_gpu_info(out, &s->gpus[i], r->version);
                break;
        }
        case REC_SUMMARY: {
                const struct rec_summary *s = &r->u.summary;
                iso(s->period_start_ns, t, sizeof t);
                iso(s->obs_start_wall_ns, a, sizeof a);
                iso(s->obs_end_wall_ns, b, sizeof b);
                fprintf(out,
                        "  period      %s + %" PRIu32 " s%s\n  observed    %s .. %s (wall)\n"
                        "              %" PRIu64 " .. %" PRIu64 " ns (boot)\n"
                        "  samples     %" PRIu32 " taken of %" PRIu32 " expected\n"
                        "  GPUs        %" PRIu32 "\n",
                        t, s->period_s, (s->flags & SUMMARY_PARTIAL) ? " (partial)" : "", a, b,
                        s->obs_start_boot_ns, s->obs_end_boot_ns, s->samples_taken,
                        s->samples_expected, s->gpu_count);
                for (uint32_t i = 0; i < s->gpu_count; i++) {
                        const struct gpu_summary *g = &s->gpus[i];
                        fprintf(out, "  GPU %s\n    observed ", g->uuid);
                        milli(out, g->observed_ms);
                        fputs(" s, busy ", out);
                        milli(out, g->busy_ms);
                        fputs(" s, occupied ", out);
                        milli(out, g->occupied_ms);
                        fputs(" s\n    energy ", out);
                        milli(out, g->energy_used_mj);
                        fprintf(out,
                                " J (counter %" PRIu64 " -> %" PRIu64 " mJ), power avg %" PRIu32
                                " mW, max %" PRIu32 " mW\n    memory max %" PRIu64
                                " bytes, processes max %" PRIu32 ", Xid errors %" PRIu32
                                ", flags ",
                                g->energy_start_mj, g->energy_end_mj, g->power_avg_mw,
                                g->power_max_mw, g->mem_used_max_bytes, g->procs_max,
                                g->xid_count);
                        flag_names(out, g->flags, gpu_flag_names, 8);
                        fputc('\n', out);
                }
                break;
        }
        case REC_STOP:
                fprintf(out, "  reason      %s\n", r->u.stop.reason);
                break;
        case REC_CLOCK_STEP:
                iso(r->u.clock_step.prev_wall_ns, a, sizeof a);
                fprintf(out,
                        "  before      %s (%" PRIu64 " ns), boot %" PRIu64 " ns\n"
                        "  after       %s (the header's times)\n",
                        a, r->u.clock_step.prev_wall_ns, r->u.clock_step.prev_boot_ns, t);
                break;
        case REC_INVENTORY: {
                const struct rec_inventory *v = &r->u.inventory;
                fputs("  reason      ", out);
                flag_names(out, v->reason, inv_reason_names, 5);
                fprintf(out, "\n  driver      %s, NVML %s\n  GPUs        %" PRIu32 "\n",
                        v->driver_version[0] ? v->driver_version : "-",
                        v->nvml_version[0] ? v->nvml_version : "-", v->gpu_count);
                for (uint32_t i = 0; i < v->gpu_count; i++)
                        show_gpu_info(out, &v->gpus[i], r->version);
                break;
        }
        default:
                break;
        }
}

/*
 * The verified source's records as a bundle: from memory (URL, kept while
 * verifying) or read again from the file, then checked against the verified
 * checkpoint: the same note, the same count and the same Merkle root (a file
 * changed after it was verified is refused). 0 or -1 (message printed).
 */
static int verified_bundle(const struct source *s, uint8_t **owned, struct bundle_view *bv) {
        const uint8_t *p = s->bundle_data;
        size_t len = s->bundle_len;
        if (!s->is_url) {
                char *buf = NULL;
                int r = read_file_capped(s->name, SOURCE_RECORDS_MAX_BYTES + NOTE_MAX_SIZE + 64,
                                         &buf, &len);
                if (r < 0) {
                        fprintf(stderr, PROG " show: cannot read '%s': %s\n", s->name,
                                strerror(-r));
                        return -1;
                }
                *owned = (uint8_t *)buf;
                p = *owned;
        }
        if (!p || bundle_parse(p, len, bv) != 0 || bv->note_len != s->note_len ||
            memcmp(bv->note, s->note, s->note_len) != 0 || bv->count != s->cp.size) {
                fprintf(stderr, PROG " show: '%s' changed after it was verified\n", s->name);
                return -1;
        }
        struct merkle_border mb;
        merkle_border_init(&mb);
        struct reader rd;
        reader_init(&rd, bv->records, bv->records_len);
        for (uint64_t i = 0; i < bv->count; i++) {
                const uint8_t *rec;
                size_t rl;
                merkle_hash h;
                if (record_frame_next(&rd, &rec, &rl) != 0)
                        return -1;
                merkle_leaf_hash(rec, rl, h);
                if (merkle_border_append(&mb, h) != 0)
                        return -1;
        }
        merkle_hash root;
        merkle_border_root(&mb, root);
        if (memcmp(root, s->cp.root, sizeof root) != 0) {
                fprintf(stderr, PROG " show: '%s' changed after it was verified\n", s->name);
                return -1;
        }
        return 0;
}

int cmd_show(int argc, char **argv) {
        struct common_opts c = {0};
        const char *name = NULL, *nstr = NULL;
        int rc = EXIT_INCOMPLETE;
        for (int i = 1; i < argc; i++) {
                int r = common_opt("show", show_help, argc, argv, &i, &c, &rc);
                if (r < 0)
                        goto out;
                if (r == 1)
                        continue;
                const char *v;
                if (r != COMMON_OPERAND &&
                    (r = arg_value("show", argc, argv, &i, "--record", &v)) != 0) {
                        if (r < 0)
                                goto out;
                        nstr = v;
                } else if (argv[i][0] == '-' && argv[i][1] != '\0' && !c.operands) {
                        fprintf(stderr, PROG " show: unknown option '%s'\n", argv[i]);
                        goto out;
                } else if (name) {
                        fprintf(stderr, PROG " show: one SOURCE at a time\n");
                        goto out;
                } else {
                        name = argv[i];
                }
        }
        if (!name) {
                fprintf(stderr, PROG " show: no SOURCE given (see " PROG " show --help)\n");
                goto out;
        }
        uint64_t want = 0;
        if (nstr && !parse_u64(nstr, strlen(nstr), &want)) {
                char q[60];
                quote_bytes(nstr, strlen(nstr), q, sizeof q);
                fprintf(stderr, PROG " show: --record '%s': expected a record number\n", q);
                goto out;
        }
        struct verify_opts o = {0};
        if (common_finish("show", &c, &o) != 0)
                goto out;
        o.keep_bundle = true;
        struct source s;
        source_init(&s, name);
        if (sources_verify(&s, 1, &o) != 0)
                fprintf(stderr, PROG " show: the transfer engine failed\n");
        output_human(stderr, &s, 1, output_use_color(stderr));
        rc = source_exit_code(&s);
        if (rc > EXIT_FINDINGS) {
                fprintf(stderr, PROG " show: '%s' did not verify: nothing shown\n", name);
                source_free(&s);
                goto out;
        }
        uint8_t *owned = NULL;
        struct bundle_view bv;
        struct record *rec = malloc(sizeof *rec);
        if (!rec || verified_bundle(&s, &owned, &bv) != 0) {
                if (!rec)
                        fprintf(stderr, PROG " show: out of memory\n");
                rc = EXIT_INCOMPLETE;
                goto done;
        }
        if (nstr && want >= bv.count) {
                fprintf(stderr, PROG " show: --record %" PRIu64 ": the ledger has %" PRIu64
                                " records (0 .. %" PRIu64 ")\n",
                        want, bv.count, bv.count ? bv.count - 1 : 0);
                rc = EXIT_INCOMPLETE;
                goto done;
        }
        struct reader rd;
        reader_init(&rd, bv.records, bv.records_len);
        for (uint64_t i = 0; i < bv.count; i++) {
                const uint8_t *p;
                size_t len;
                if (record_frame_next(&rd, &p, &len) != 0 || record_decode(p, len, rec) != 0) {
                        /* Verified ledgers decode (verify checks every record). */
                        fprintf(stderr, PROG " show: record %" PRIu64 " does not decode\n", i);
                        rc = EXIT_INTEGRITY;
                        goto done;
                }
                if (!nstr)
                        show_line(stdout, i, rec);
                else if (i == want) {
                        show_full(stdout, i, rec);
                        break;
                }
        }
        if (fflush(stdout) != 0)
                rc = EXIT_INCOMPLETE;
done:
        free(rec);
        free(owned);
        source_free(&s);
out:
        common_free(&c);
        return rc;
}
