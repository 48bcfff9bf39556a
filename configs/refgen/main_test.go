package main

import (
	"bytes"
	"os"
	"testing"
)

func TestReadme_IsCurrent(t *testing.T) {
	doc, _, err := render("..")
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile("../README.md")
	if err != nil || !bytes.Equal(old, doc) {
		t.Fatal("configs/README.md is out of date with the config structs: run `make docs` and commit the result")
	}
}

func TestReference_EveryKeyHasAnExample(t *testing.T) {
	_, missing, err := render("..")
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Fatalf("keys with no default and no example (add an example:\"...\" tag to the field): %v", missing)
	}
}

func TestRender_IsDeterministic(t *testing.T) {
	a, _, err := render("..")
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := render("..")
	if !bytes.Equal(a, b) {
		t.Fatal("two renders differ")
	}
}
