package run

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"
)

// WriteTable writes the Sluice report (the scenario as written), then every
// row side by side and the ratios.
func (c *Comparison) WriteTable(w io.Writer) error {
	if c.Sluice != nil {
		if err := c.Sluice.WriteTable(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "compare %s: %d msgs x %d rcpt of %s over %d sessions; relays durable (250 after fsync), "+
		"%d connections, %d msgs/conn, %d rcpts/msg to the sink\n",
		c.Scenario, c.Messages, c.RcptsPerMsg, bytesStr(int64(c.SizeBytes)), c.Sessions,
		c.Limits.Connections, c.Limits.MsgsPerConn, c.Limits.RcptsPerMsg)
	fmt.Fprintf(w, "load average %.1f before, %.1f after, on %d CPUs\n", c.LoadStart, c.LoadEnd, runtime.NumCPU())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "system\tinjector\tdelivered/s\tdeliver s\tinject s\tcpu s/1k msgs\tdelivered")
	row := func(r Row, injector string) {
		cpu := "    -"
		if r.CPUSeconds > 0 {
			cpu = fmt.Sprintf("%5.3f", r.CPUSPer1k)
		}
		fmt.Fprintf(tw, "%s\t%s\t%11.0f\t%9.2f\t%8.2f\t%13s\t%s\n", r.System, injector, r.DeliveredPerS,
			r.DeliverSeconds, r.InjectSeconds, cpu, completeStr(r.Recipients, r.Duplicates, r.Complete))
	}
	row(c.Limit, "smtp-source")
	if c.Postfix != nil {
		row(*c.Postfix, "smtp-source")
	}
	row(c.SluiceSource, "smtp-source")
	if s := c.Sluice; s != nil {
		fmt.Fprintf(tw, "sluice (scenario)\tsluice inject\t%11.0f\t%9.2f\t%8.2f\t%13.3f\t%s\n", s.DeliveredPerS,
			s.DeliverSeconds, s.InjectSeconds, s.CPUSPer1k, completeStr(s.Delivered, s.Duplicates, s.Correct))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "sluice (smtp-source): %s\n", c.Ratios.String())
	if c.Sluice != nil {
		fmt.Fprintf(w, "sluice (scenario):    %s\n", c.OwnInjector.String())
	}
	return nil
}

// String writes the ratios for people; a ratio not measured is "-".
func (r Ratios) String() string {
	pf := "-"
	if r.OverPostfix > 0 {
		pf = fmt.Sprintf("%.2fx", r.OverPostfix)
	}
	cpu := ""
	if r.CPUOverPostfix > 0 {
		cpu = fmt.Sprintf("; CPU per message %.2fx Postfix's", r.CPUOverPostfix)
	}
	return fmt.Sprintf("%s Postfix, %.1f%% of the loopback limit, %.1f%% of half of it%s",
		pf, 100*r.OverLimit, 100*r.OverHalfLimit, cpu)
}

// completeStr says how many recipients arrived and whether that is all.
func completeStr(n, dups int64, ok bool) string {
	switch {
	case dups > 0:
		return fmt.Sprintf("%d, %d DUPLICATES", n, dups)
	case !ok:
		return fmt.Sprintf("%d INCOMPLETE", n)
	}
	return fmt.Sprintf("%d", n)
}

// WriteJSON writes the comparison as indented JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// WriteJSONFile writes the comparison as JSON to path.
func (c *Comparison) WriteJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("run: comparison: %w", err)
	}
	if err := c.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("run: comparison %s: %w", path, err)
	}
	return f.Close()
}
