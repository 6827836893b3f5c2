/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The HTTP API's shared constants: the paths, header names, content types
 * and response caps that gpuhoursd serves (daemon/API.md), the client
 * fetches and the witness answers. Constants only, no I/O: one place, so that
 * a server's largest legitimate response and a client's cap cannot drift.
 *
 * Every cap below is the body of one 200 response. The daemon never sends a
 * longer one; the client aborts a transfer that exceeds it. Error bodies are
 * one short line (at most 256 bytes) and fit under every cap.
 */

#include "cosig.h"
#include "merkle.h"
#include "note.h"
#include "record.h"

/* ---- gpuhoursd ---- */

#define API_PATH_CHECKPOINT "/checkpoint"
#define API_PATH_NODE "/v1/node"
#define API_PATH_RECORDS "/v1/records"
#define API_PATH_INCLUSION "/v1/proof/inclusion"
#define API_PATH_CONSISTENCY "/v1/proof/consistency"
#define API_PATH_ATTEST "/v1/attest"
#define API_PATH_METRICS "/metrics"
#define API_PATH_HEALTHZ "/healthz"

/* Query parameter names. */
#define API_PARAM_START "start"
#define API_PARAM_END "end"
#define API_PARAM_INDEX "index"
#define API_PARAM_SIZE "size"
#define API_PARAM_OLD "old"
#define API_PARAM_NEW "new"
#define API_PARAM_NONCE "nonce"

/* "N-M": the range of records a /v1/records response holds. */
#define API_HEADER_RANGE "X-Gpuhours-Range"

#define API_CT_TEXT "text/plain; charset=utf-8"
#define API_CT_PROOF "text/plain"
#define API_CT_JSON "application/json"
#define API_CT_RECORDS "application/octet-stream"
#define API_CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/*
 * /v1/records: at most this many records and this many bytes per response.
 * The daemon adds records while the total stays within the byte cap and
 * always serves at least one; one frame (u32 length + a record of at most
 * RECORD_MAX_SIZE bytes) is far below the byte cap, so no response is longer
 * than API_RECORDS_MAX_BYTES, and the client's cap is exactly that.
 */
#define API_RECORDS_MAX_COUNT 10000u
#define API_RECORDS_MAX_BYTES (16u << 20)
_Static_assert(API_RECORDS_MAX_BYTES >= 4u + RECORD_MAX_SIZE,
               "one record frame must fit in a /v1/records response");

/* /checkpoint (with the witnesses' cosignatures) and /v1/attest: one note. */
#define API_CHECKPOINT_MAX_BYTES NOTE_MAX_SIZE
#define API_ATTEST_MAX_BYTES NOTE_MAX_SIZE
/* Proofs: one line per hash, 44 base64 characters and a newline. */
#define API_PROOF_LINE_BYTES 45u
#define API_PROOF_MAX_BYTES (MERKLE_MAX_PROOF * API_PROOF_LINE_BYTES)
/* /v1/node: the daemon refuses to send a longer document (500). */
#define API_NODE_MAX_BYTES 65536u

/* ---- gpuhours-witness (C2SP tlog-witness) ---- */

#define API_WITNESS_PATH_ADD_CHECKPOINT "/add-checkpoint"
/* GET /<64 lowercase hex of the log ID>/checkpoint: the latest cosigned one. */
#define API_WITNESS_PATH_CHECKPOINT_SUFFIX "/checkpoint"

/*
 * What gpuhours reads per witness when it checks a checkpoint's witnesses:
 * the witness's latest cosigned checkpoint (the log's note, at most
 * NOTE_MAX_SIZE as add-checkpoint accepts it, plus the witness's own
 * cosignature line) and the node's consistency proof between the two sizes
 * (at most API_PROOF_MAX_BYTES). Twice a note's cap holds either with room to
 * spare, and bounds the memory of fetching every witness at once.
 */
#define API_WITNESS_FETCH_MAX_BYTES (2u * NOTE_MAX_SIZE)
_Static_assert(API_WITNESS_FETCH_MAX_BYTES >= NOTE_MAX_SIZE + COSIG_LINE_MAX,
               "a witness's cosigned checkpoint must fit");
_Static_assert(API_WITNESS_FETCH_MAX_BYTES >= API_PROOF_MAX_BYTES, "a consistency proof must fit");

/*
 * An add-checkpoint response, as gpuhoursd reads it: 200 carries the
 * witness's cosignature lines (COSIG_LINE_MAX bytes each, one per witness
 * key: a few at most), 409 one decimal size and a newline, an error one short
 * line. 4 KiB holds ten cosignature lines of the longest key name.
 */
#define API_WITNESS_ADD_RESP_MAX_BYTES 4096u
_Static_assert(API_WITNESS_ADD_RESP_MAX_BYTES >= 10u * COSIG_LINE_MAX,
               "ten cosignature lines must fit");
