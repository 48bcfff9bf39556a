package main

import (
	"slices"
	"testing"
)

func TestLoopbackListen(t *testing.T) {
	got, err := loopbackListen([]string{"127.0.0.1:2526", "ignored:1"}, 3)
	if want := []string{"127.0.0.1:2526", "127.0.0.2:2526", "127.0.0.3:2526"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("loopbackListen(.., 3) = %v, %v; want %v", got, err, want)
	}
	if got, _ := loopbackListen([]string{"a:1"}, 0); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("loopbackListen(.., 0) = %v, want --listen as given", got)
	}
	for _, tc := range []struct {
		listen string
		n      int
	}{{"127.0.0.1:0", 2}, {"127.0.0.1:2526", 255}, {"nohost", 2}} {
		if _, err := loopbackListen([]string{tc.listen}, tc.n); err == nil {
			t.Errorf("loopbackListen(%s, %d) succeeded", tc.listen, tc.n)
		}
	}
}
