// SPDX-License-Identifier: MIT

// Cross-check of proto/merkle.c and proto/note.c against Go's reference
// implementations golang.org/x/mod/sumdb/tlog and golang.org/x/mod/sumdb/note.
// Run by cross-go.sh (offline: GO111MODULE=off GOPATH=/usr/share/gocode).
//
//	go run cross-go.go TLOG-TOOL VECTOR-DIR
//
// Prints TAP.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	n      = 1100
	origin = "node17.example.org/gpuhours"
)

var (
	results []string
	failed  bool
)

func check(ok bool, name string, detail string) {
	if ok {
		results = append(results, "ok - "+name)
		return
	}
	failed = true
	r := "not ok - " + name
	if detail != "" {
		r += "\n# " + strings.ReplaceAll(detail, "\n", "\n# ")
	}
	results = append(results, r)
}

func leaf(i int64) []byte { return []byte(fmt.Sprintf("gpuhours leaf %d", i)) }

type store []tlog.Hash

func (s store) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(s)) {
			return nil, fmt.Errorf("index %d out of range", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

func joinProof(p []tlog.Hash) string {
	if len(p) == 0 {
		return "-"
	}
	s := make([]string, len(p))
	for i, h := range p {
		s[i] = h.String()
	}
	return strings.Join(s, ",")
}

func parseProof(line string) ([]tlog.Hash, error) {
	if line == "-" {
		return nil, nil
	}
	var p []tlog.Hash
	for _, f := range strings.Split(line, ",") {
		h, err := tlog.ParseHash(f)
		if err != nil {
			return nil, err
		}
		p = append(p, h)
	}
	return p, nil
}

func merkleChecks(tool string) {
	// Go's storage, written record by record.
	var st store
	for i := int64(0); i < n; i++ {
		hs, err := tlog.StoredHashes(i, leaf(i), st)
		if err != nil {
			check(false, "tlog.StoredHashes", err.Error())
			return
		}
		st = append(st, hs...)
	}

	var cmds []string
	var want []string
	var what []string
	cmds = append(cmds, "count")
	want = append(want, fmt.Sprint(tlog.StoredHashCount(n)))
	what = append(what, "stored hash count")
	for i := range st {
		cmds = append(cmds, fmt.Sprintf("hash %d", i))
		want = append(want, st[i].String())
		what = append(what, fmt.Sprintf("stored hash %d", i))
	}
	for t := int64(1); t <= n; t++ {
		h, err := tlog.TreeHash(t, st)
		if err != nil {
			check(false, "tlog.TreeHash", err.Error())
			return
		}
		cmds = append(cmds, fmt.Sprintf("root %d", t))
		want = append(want, h.String())
		what = append(what, fmt.Sprintf("TreeHash(%d)", t))
	}
	type pair struct{ m, t int64 }
	var pairs []pair
	for t := int64(1); t <= 48; t++ {
		for m := int64(1); m <= t; m++ {
			pairs = append(pairs, pair{m, t})
		}
	}
	x := uint64(88172645463325252) // xorshift: a fixed sample of big pairs
	for k := 0; k < 1000; k++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		t := int64(x%n) + 1
		m := int64((x>>32)%uint64(t)) + 1
		pairs = append(pairs, pair{m, t})
	}
	for _, p := range pairs {
		rp, err := tlog.ProveRecord(p.t, p.m-1, st)
		if err != nil {
			check(false, "tlog.ProveRecord", err.Error())
			return
		}
		cmds = append(cmds, fmt.Sprintf("incl %d %d", p.m-1, p.t))
		want = append(want, joinProof(rp))
		what = append(what, fmt.Sprintf("ProveRecord(%d, %d)", p.t, p.m-1))
		tp, err := tlog.ProveTree(p.t, p.m, st)
		if err != nil {
			check(false, "tlog.ProveTree", err.Error())
			return
		}
		cmds = append(cmds, fmt.Sprintf("cons %d %d", p.m, p.t))
		want = append(want, joinProof(tp))
		what = append(what, fmt.Sprintf("ProveTree(%d, %d)", p.t, p.m))
	}

	cmd := exec.Command(tool, "tree", fmt.Sprint(n))
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		check(false, "tlog-tool tree ran", err.Error())
		return
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	check(len(got) == len(cmds), "tlog-tool answered every command", fmt.Sprintf("%d/%d", len(got), len(cmds)))
	if len(got) != len(cmds) {
		return
	}
	bad := map[string]int{}
	first := map[string]string{}
	for i := range cmds {
		kind := strings.Fields(cmds[i])[0]
		if got[i] != want[i] {
			bad[kind]++
			if first[kind] == "" {
				first[kind] = fmt.Sprintf("%s: ours %s, Go %s", what[i], got[i], want[i])
			}
		}
	}
	check(bad["count"] == 0 && bad["hash"] == 0,
		fmt.Sprintf("all %d stored hashes equal tlog.StoredHashes at the same indexes", len(st)), first["hash"]+first["count"])
	check(bad["root"] == 0, "roots 1..1100 equal tlog.TreeHash", first["root"])
	check(bad["incl"] == 0, fmt.Sprintf("%d inclusion proofs equal tlog.ProveRecord", len(pairs)), first["incl"])
	check(bad["cons"] == 0, fmt.Sprintf("%d consistency proofs equal tlog.ProveTree", len(pairs)), first["cons"])

	// Our proofs pass Go's verifiers.
	nbad := 0
	for i := range cmds {
		var a, b int64
		if k, _ := fmt.Sscanf(cmds[i], "incl %d %d", &a, &b); k == 2 {
			p, err := parseProof(got[i])
			th, _ := tlog.TreeHash(b, st)
			if err != nil || tlog.CheckRecord(p, b, th, a, tlog.RecordHash(leaf(a))) != nil {
				nbad++
			}
		} else if k, _ := fmt.Sscanf(cmds[i], "cons %d %d", &a, &b); k == 2 {
			p, err := parseProof(got[i])
			th, _ := tlog.TreeHash(b, st)
			h, _ := tlog.TreeHash(a, st)
			if err != nil || tlog.CheckTree(p, b, th, a, h) != nil {
				nbad++
			}
		}
	}
	check(nbad == 0, "our proofs pass tlog.CheckRecord and tlog.CheckTree", fmt.Sprint(nbad, " failed"))
}

func skeyFromSeed(name string, seed []byte) (string, string) {
	priv := ed25519.NewKeyFromSeed(seed)
	pub := append([]byte{1}, priv.Public().(ed25519.PublicKey)...)
	h := sha256.Sum256(append([]byte(name+"\n"), pub...))
	id := binary.BigEndian.Uint32(h[:4])
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(append([]byte{1}, seed...)))
	vkey := fmt.Sprintf("%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(pub))
	return skey, vkey
}

func toolVerify(tool string, msg []byte, vkeys ...string) bool {
	cmd := exec.Command(tool, append([]string{"verify"}, vkeys...)...)
	cmd.Stdin = bytes.NewReader(msg)
	return cmd.Run() == nil
}

func noteChecks(tool, vecdir string) {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	skey, vkey := skeyFromSeed(origin, seed)
	file, err := os.ReadFile(vecdir + "/note-vkey.txt")
	check(err == nil && string(file) == vkey+"\n", "vector note-vkey.txt equals Go's vkey for the seed", string(file)+" vs "+vkey)

	v, err := note.NewVerifier(strings.TrimSuffix(string(file), "\n"))
	check(err == nil, "note.NewVerifier accepts our vkey", fmt.Sprint(err))
	if err != nil {
		return
	}
	for _, f := range []string{"note-checkpoint.txt", "note-attest.txt"} {
		msg, err := os.ReadFile(vecdir + "/" + f)
		if err != nil {
			check(false, "read "+f, err.Error())
			continue
		}
		nt, err := note.Open(msg, note.VerifierList(v))
		check(err == nil && len(nt.Sigs) == 1, "note.Open verifies vector "+f, fmt.Sprint(err))
		if err == nil {
			// Ed25519 is deterministic: Go's signature over the same text gives the same bytes.
			s, err := note.NewSigner(skey)
			if err == nil {
				again, err := note.Sign(&note.Note{Text: nt.Text}, s)
				check(err == nil && bytes.Equal(again, msg), "note.Sign reproduces "+f+" byte for byte", string(again))
			} else {
				check(false, "note.NewSigner", err.Error())
			}
		}
		bad := append([]byte{}, msg...)
		bad[len(bad)/3] ^= 4
		_, err = note.Open(bad, note.VerifierList(v))
		check(err != nil, "note.Open rejects "+f+" with a flipped bit", "")
	}

	// A fresh checkpoint from tlog-tool verifies with note.Open.
	out, err := exec.Command(tool, "checkpoint", fmt.Sprintf("%x", seed), origin, "4242",
		"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=").Output()
	if err == nil {
		nt, err2 := note.Open(out, note.VerifierList(v))
		check(err2 == nil && nt.Text == origin+"\n4242\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
			"note.Open verifies a fresh tlog-tool checkpoint", fmt.Sprint(err2))
	} else {
		check(false, "tlog-tool checkpoint ran", err.Error())
	}

	// Notes signed by Go verify with ours, also with a cosignature from an unknown key.
	seed2 := sha256.Sum256([]byte("go key"))
	skey2, vkey2 := skeyFromSeed("go.example/witness", seed2[:])
	s2, err := note.NewSigner(skey2)
	if err != nil {
		check(false, "note.NewSigner", err.Error())
		return
	}
	s1, _ := note.NewSigner(skey)
	text := "go.example/log\n17\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
	msg, err := note.Sign(&note.Note{Text: text}, s2)
	check(err == nil && toolVerify(tool, msg, vkey2), "a note signed by Go's note.Sign verifies with note_verify", "")
	check(!toolVerify(tool, msg, vkey), "... and not with another key", "")
	both, err := note.Sign(&note.Note{Text: text}, s1, s2)
	check(err == nil && toolVerify(tool, both, vkey) && toolVerify(tool, both, vkey2),
		"a Go note with two signatures verifies with either key (unknown one ignored)", "")
	out, err = exec.Command(tool, "vkey", fmt.Sprintf("%x", seed2[:]), "go.example/witness").Output()
	check(err == nil && string(out) == vkey2+"\n", "our vkey_format equals Go's for another key", string(out))
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cross-go TLOG-TOOL VECTOR-DIR")
		os.Exit(2)
	}
	merkleChecks(os.Args[1])
	noteChecks(os.Args[1], os.Args[2])
	fmt.Printf("1..%d\n", len(results))
	for i, r := range results {
		sp := strings.SplitN(r, " - ", 2)
		fmt.Printf("%s %d - %s\n", sp[0], i+1, sp[1])
	}
	if failed {
		os.Exit(1)
	}
}
