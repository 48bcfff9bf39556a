package mx

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/sluice-mta/sluice/bench/fakedns"
)

// BenchmarkLookup_CacheHit measures a Lookup answered from the cache: the
// per-batch cost the delivery path pays.
func BenchmarkLookup_CacheHit(b *testing.B) {
	srv, err := fakedns.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.Synthetic("test", 8, netip.MustParseAddr("127.0.0.1"))
	r, err := New(Config{Resolvers: []string{srv.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	const domains = 1000
	for i := range domains {
		if _, err := r.Lookup(context.Background(), fmt.Sprintf("d%d.test", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := r.Lookup(context.Background(), fmt.Sprintf("d%d.test", i%domains)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
