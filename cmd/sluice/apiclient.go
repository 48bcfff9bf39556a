package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// apiClient calls a running node's REST API (the gRPC services through the
// gateway on listen.http), as the admin commands do.
type apiClient struct {
	base string
	key  string
	hc   *http.Client
}

// apiFlags adds --server and --api-key to an admin command tree.
func apiFlags(cmd *cobra.Command) func() *apiClient {
	var server, key string
	cmd.PersistentFlags().StringVar(&server, "server", "127.0.0.1:8080",
		"the node's HTTP API address (listen.http); https://host:port for a TLS listener")
	cmd.PersistentFlags().StringVar(&key, "api-key", "", "API key (default $SLUICE_API_KEY; loopback needs none by default)")
	return func() *apiClient {
		if key == "" {
			key = os.Getenv("SLUICE_API_KEY")
		}
		base := server
		if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			base = "http://" + base
		}
		// A flush or purge of a big queue takes a while.
		return &apiClient{base: strings.TrimSuffix(base, "/"), key: key, hc: &http.Client{Timeout: 10 * time.Minute}}
	}
}

// call sends req (nil for none) as JSON and decodes the reply into resp.
func (c *apiClient) call(method, path string, req, resp proto.Message) error {
	var body io.Reader
	if req != nil {
		b, err := protojson.Marshal(req)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.key != "" {
		hr.Header.Set("Authorization", "Bearer "+c.key)
	}
	r, err := c.hc.Do(hr)
	if err != nil {
		return fmt.Errorf("is a node running with listen.http %s? %w", c.base, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if r.StatusCode != http.StatusOK {
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &st) == nil && st.Message != "" {
			return fmt.Errorf("%s: %s", r.Status, st.Message)
		}
		return fmt.Errorf("%s: %s", r.Status, b)
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, resp)
}

// printJSON writes a reply for the commands that print it as is.
func printJSON(cmd *cobra.Command, m proto.Message) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	// NB: protojson varies its white space on purpose; re-indent for a
	// stable, readable output.
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), out.String())
	return err
}
