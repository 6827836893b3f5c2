/* SPDX-License-Identifier: MIT */
#pragma once
/* Umbrella header for the pure ledger library. */
#include "buf.h"
#include "bundle.h"
#include "hash.h"
#include "merkle.h"
#include "note.h"
#include "record.h"
#include "status.h"
#include "text.h"
