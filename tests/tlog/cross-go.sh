#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds cross-go.go offline against Debian's golang.org/x/mod and runs it
# (TAP). Skips only when no Go toolchain is installed.
set -u
if ! command -v go >/dev/null 2>&1; then
        echo "1..1"
        echo "ok 1 - Go cross-check # SKIP go is not installed"
        exit 0
fi
src=${GH_SOURCE_ROOT:?}
build=${GH_BUILD_ROOT:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The Go build cache lives in the build directory, never in the source tree.
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/tests/tlog/gocache" GOFLAGS= CGO_ENABLED=0
if ! go build -o "$tmp/cross-go" "$src/tests/tlog/cross-go.go" >"$tmp/build.log" 2>&1; then
        echo "1..1"
        echo "not ok 1 - build cross-go.go"
        sed 's/^/# /' "$tmp/build.log"
        exit 1
fi
"$tmp/cross-go" "$build/tests/tlog/tlog-tool" "$src/tests/vectors"
