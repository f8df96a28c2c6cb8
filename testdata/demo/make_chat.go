//go:build ignore

// make_chat.go builds the demo's chat data, testdata/demo/chat/{train,test}.jsonl, from the
// translation pairs of testdata/demo/translate: each conversation is two English sentences
// from the user, each answered with its Spanish translation, in the
// {"messages": [{"role", "content"}, ...]} format of recipes/chat.yaml. Consecutive pairs of
// a split make one conversation when their four texts have at most maxChars characters
// (so that a conversation fits the demo model's 256 positions), and train keeps the first
// maxTrain conversations; the data are as public domain as the pairs (testdata/README.md,
// "Demo data"). Run from the repository root:
//
//	go run testdata/demo/make_chat.go
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

// maxTrain is the most training conversations written: more than recipes/chat.yaml's
// steps read.
const maxTrain = 4000

// maxChars bounds the text of a conversation.
const maxChars = 450

type pair struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func main() {
	dir := filepath.Join("testdata", "demo")
	for _, split := range []string{"train", "test"} {
		pairs, err := readPairs(filepath.Join(dir, "translate", split+".jsonl"))
		if err != nil {
			log.Fatal(err)
		}
		out := filepath.Join(dir, "chat", split+".jsonl")
		f, err := os.Create(out)
		if err != nil {
			log.Fatal(err)
		}
		w := bufio.NewWriter(f)
		n := 0
		for i := 0; i+1 < len(pairs) && (split != "train" || n < maxTrain); i += 2 {
			a, b := pairs[i], pairs[i+1]
			if len([]rune(a.Source+a.Target+b.Source+b.Target)) > maxChars {
				continue
			}
			msgs := []message{
				{"user", pairs[i].Source}, {"assistant", pairs[i].Target},
				{"user", pairs[i+1].Source}, {"assistant", pairs[i+1].Target}}
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(struct {
				Messages []message `json:"messages"`
			}{msgs}); err != nil {
				log.Fatal(err)
			}
			n++
		}
		if err := w.Flush(); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d conversations\n", out, n)
	}
}

func readPairs(path string) ([]pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pairs []pair
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p pair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		pairs = append(pairs, p)
	}
	return pairs, sc.Err()
}
