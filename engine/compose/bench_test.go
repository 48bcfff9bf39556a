package compose

import (
	"strings"
	"testing"
)

// BenchmarkRender measures one recipient's rendering of a typical marketing
// message: a templated subject, two extra headers and a text and an HTML
// part of a few KB.
func BenchmarkRender(b *testing.B) {
	html := "<html><body><h1>Hello {{.first_name}}</h1>" +
		strings.Repeat("<p>Spring sale: everything must go, up to 50% off in {{.city}}.</p>\n", 40) +
		`<a href="https://shop.example/u/{{.id}}">unsubscribe</a></body></html>`
	text := "Hello {{.first_name}}\n" + strings.Repeat("Spring sale: everything must go, up to 50% off in {{.city}}.\n", 40)
	tm := mustParse(b, Content{
		Subject: "{{.first_name}}, our spring sale starts now",
		Text:    text,
		HTML:    html,
		Headers: map[string]string{"List-Unsubscribe": "<https://shop.example/u/{{.id}}>", "X-Campaign": "spring"},
	})
	m := testMessage(map[string]any{"first_name": "Zoë", "city": "Zürich", "id": 123456})
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := tm.Render(m)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}
