package peers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/sink"
)

// readMainCF returns main.cf's parameters, and the parameters of each
// blank-line-separated block that has no comment line.
func readMainCF(t *testing.T, path string) (params map[string]string, uncommented []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	params = map[string]string{}
	for block := range strings.SplitSeq(string(b), "\n\n") {
		var names []string
		commented := false
		sc := bufio.NewScanner(strings.NewReader(block))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				commented = true
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = strings.TrimSpace(k)
			if _, dup := params[k]; dup {
				t.Errorf("main.cf sets %s twice", k)
			}
			params[k] = strings.TrimSpace(v)
			names = append(names, k)
		}
		if !commented {
			uncommented = append(uncommented, names...)
		}
	}
	return params, uncommented
}

func TestWritePostfixConfig_RelaysEverythingToTheSinkWithSluicesLimits(t *testing.T) {
	dir := t.TempDir()
	script, err := WritePostfixConfig(context.Background(), PostfixConfig{Dir: dir, Relay: "127.0.0.1:2526",
		Listen: "127.0.0.1:2600", Concurrency: 7, MsgsPerConn: 300, RcptsPerMsg: 50})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(script) != dir {
		t.Errorf("script at %s, want it in %s", script, dir)
	}
	params, uncommented := readMainCF(t, filepath.Join(dir, "etc", "main.cf"))
	if len(uncommented) > 0 {
		t.Errorf("settings without a comment: %v", uncommented)
	}
	for k, want := range map[string]string{
		"queue_directory":                    dir + "/queue",
		"data_directory":                     dir + "/data",
		"maillog_file":                       dir + "/maillog",
		"relayhost":                          "[127.0.0.1]:2526",
		"smtp_connection_cache_destinations": "[127.0.0.1]:2526",
		"smtp_dns_support_level":             "disabled",
		"inet_interfaces":                    "127.0.0.1",
		"mydestination":                      "",
		"local_recipient_maps":               "",
		"relay_domains":                      "",
		"content_filter":                     "",
		"smtpd_milters":                      "",
		"smtp_destination_concurrency_limit": "7",
		"initial_destination_concurrency":    "7",
		"smtp_connection_reuse_count_limit":  "300",
		"smtp_destination_recipient_limit":   "50",
		"smtp_connection_cache_on_demand":    "yes",
	} {
		if got, ok := params[k]; !ok || got != want {
			t.Errorf("main.cf %s = %q (set %v), want %q", k, got, ok, want)
		}
	}
	if !strings.HasPrefix(params["local_transport"], "error:") {
		t.Errorf("local_transport = %q, want the error transport (no local delivery)", params["local_transport"])
	}
	master, err := os.ReadFile(filepath.Join(dir, "etc", "master.cf"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexpLine(master, "127.0.0.1:2600 inet n - n - - smtpd") {
		t.Errorf("master.cf has no unchrooted smtpd on 127.0.0.1:2600:\n%s", master)
	}
	for _, absent := range []string{"local", "virtual", "pipe", "pickup"} {
		if regexpLine(master, absent+" unix") {
			t.Errorf("master.cf runs %s", absent)
		}
	}
	// Postfix itself says whether every parameter name is one it knows.
	if _, err := exec.LookPath(sbin("postconf")); err == nil {
		out, err := exec.Command(sbin("postconf"), "-c", filepath.Join(dir, "etc"), "-n").CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("warning")) {
			t.Errorf("postconf -n: %v\n%s", err, out)
		}
	}
}

// regexpLine reports whether text has a line whose fields are want's.
func regexpLine(text []byte, want string) bool {
	w := strings.Fields(want)
	for line := range strings.Lines(string(text)) {
		if strings.Join(strings.Fields(line), " ") == strings.Join(w, " ") {
			return true
		}
	}
	return false
}

func TestWritePostfixConfig_BadInputSaysWhat(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    PostfixConfig
		want string
	}{
		{"no dir", PostfixConfig{Relay: "127.0.0.1:1", Listen: "127.0.0.1:2"}, "directory is required"},
		{"relay off loopback", PostfixConfig{Relay: "10.0.0.1:25", Listen: "127.0.0.1:2"}, "RELAY must be 127"},
		{"relay without port", PostfixConfig{Relay: "127.0.0.1", Listen: "127.0.0.1:2"}, "RELAY must be 127"},
		{"listen name", PostfixConfig{Relay: "127.0.0.1:1", Listen: "localhost:2"}, "LISTEN must be 127"},
		{"too many connections", PostfixConfig{Relay: "127.0.0.1:1", Listen: "127.0.0.1:2", Concurrency: 101}, "process limit"},
		{"negative", PostfixConfig{Relay: "127.0.0.1:1", Listen: "127.0.0.1:2", RcptsPerMsg: -1}, "RCPTS_PER_MSG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "no dir" {
				tc.c.Dir = t.TempDir()
			}
			_, err := WritePostfixConfig(context.Background(), tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WritePostfixConfig(%+v) = %v, want an error containing %q", tc.c, err, tc.want)
			}
		})
	}
}

// instancePIDs returns the processes whose environment has
// MAIL_CONFIG=dir/etc.
func instancePIDs(dir string) []string {
	want := []byte("MAIL_CONFIG=" + filepath.Join(dir, "etc"))
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for v := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.Equal(v, want) {
				pids = append(pids, e.Name())
			}
		}
	}
	return pids
}

func TestPostfix_RelaysIntoTheSinkAndStopsLeavingNothing(t *testing.T) {
	if err := Check(); err != nil {
		t.Skipf("no private Postfix here: %v", err)
	}
	t.Run("closed parent directory", func(t *testing.T) {
		_, err := StartPostfix(context.Background(), PostfixConfig{Dir: t.TempDir(), Relay: "127.0.0.1:1", Listen: "127.0.0.1:2"})
		if err == nil || !strings.Contains(err.Error(), "cannot write") {
			t.Errorf("StartPostfix under a closed directory = %v, want 'cannot write'", err)
		}
	})
	snk := sink.New(sink.Config{TrackDuplicates: true})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go snk.Serve(l)
	defer snk.Close()
	listen, err := FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): its parent is closed to the postfix user.
	dir, err := os.MkdirTemp("", "peers-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pf, err := StartPostfix(ctx, PostfixConfig{Dir: dir, Relay: l.Addr().String(), Listen: listen, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			pf.Stop()
		}
	}()
	if _, err := pf.MasterPID(); err != nil {
		t.Error(err)
	}
	const n = 20
	for i := range n {
		msg := fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)
		if err := smtp.SendMail(pf.Addr(), nil, "bench@sluice.test", []string{fmt.Sprintf("u%d@d%d.test", i, i%3)}, []byte(msg)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for snk.Stats().Recipients < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := snk.Stats(); st.Recipients != n || st.Duplicates != 0 {
		t.Errorf("sink got %d recipients, %d duplicates; want %d once each\n%s", st.Recipients, st.Duplicates, n, pf.LogTail())
	}
	if len(instancePIDs(dir)) == 0 {
		t.Error("no process of the instance found while it runs")
	}
	stopped = true
	if err := pf.Stop(); err != nil {
		t.Fatal(err)
	}
	if pids := instancePIDs(dir); len(pids) > 0 {
		t.Errorf("processes left after Stop: %v", pids)
	}
}
