package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/internal/bench"
)

// names is a repeatable string flag.
type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return nil }

const benchArgs = "[--workload NAME]... [--json]"

// cmdBench is llmtune bench: the performance workloads of package internal/bench.
func cmdBench(ctx context.Context, e *env, args []string) error {
	var all []string
	for _, w := range bench.Workloads {
		all = append(all, w.Name)
	}
	fs := newFlags(e, "bench", benchArgs,
		`Runs the fixed performance workloads that the PyTorch anchor also times, defined in
package internal/bench (`+strings.Join(all, ", ")+`),
each in its own process so that peak_rss_mb is the workload's own, and prints the
fields the anchor prints. Compare the two back to back on one machine, as a ratio.`)
	var workloads names
	fs.Var(&workloads, "workload", "workload `NAME` (repeatable; default: all)")
	asJSON := fs.Bool("json", false, "print one JSON object per workload")
	child := fs.String("child", "", "internal: run one workload in this process")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *child != "" {
		w, err := bench.Find(*child)
		if err != nil {
			return usagef("bench: %v", err)
		}
		res, err := bench.Run(w)
		if err != nil {
			return err
		}
		return json.NewEncoder(e.stdout).Encode(res)
	}
	if len(workloads) == 0 { // all that this machine can run
		for _, w := range bench.Workloads {
			if err := w.BaseDType.CheckSupported(); err != nil {
				fmt.Fprintf(e.stderr, "bench: skipping %s: %v\n", w.Name, err)
				continue
			}
			workloads = append(workloads, w.Name)
		}
	}
	for _, name := range workloads {
		if _, err := bench.Find(name); err != nil {
			return usagef("bench: %v", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, name := range workloads {
		cmd := exec.CommandContext(ctx, self, "bench", "--child", name)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bench %s: %w", name, err)
		}
		var res bench.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			return fmt.Errorf("bench %s: %w", name, err)
		}
		if *asJSON {
			obj := map[string]any{"impl": res.Impl, "workload": res.Workload,
				"tokens_per_s": round2(res.TokensPerSecond), "step_ms_median": round2(res.StepMsMedian),
				"peak_rss_mb": round2(res.PeakRSSMB)}
			if res.PrefillTokensPerSecond > 0 {
				obj["prefill_tokens_per_s"] = round2(res.PrefillTokensPerSecond)
			}
			if res.GFLOPS > 0 {
				obj["gflops"] = round2(res.GFLOPS)
			}
			if res.FractionOfPeak > 0 {
				obj["peak_gflops"] = round2(res.PeakGFLOPS)
				obj["fraction_of_peak"], obj["peak"] = roundDigits(res.FractionOfPeak, 4), res.Peak
			}
			line, _ := json.Marshal(obj)
			fmt.Fprintln(e.stdout, string(line))
			continue
		}
		extra := ""
		if res.PrefillTokensPerSecond > 0 {
			extra = fmt.Sprintf(" prefill_tokens_per_s=%.1f", res.PrefillTokensPerSecond)
		}
		switch {
		case res.FractionOfPeak > 0:
			extra += fmt.Sprintf(" gflops=%.1f fraction_of_peak=%.3f (peak %s, × %d cores)", res.GFLOPS, res.FractionOfPeak, res.Peak, res.Cores)
		case res.GFLOPS > 0:
			extra += fmt.Sprintf(" gflops=%.1f", res.GFLOPS)
		}
		fmt.Fprintf(e.stdout, "llmtune %s tokens_per_s=%.1f step_ms=%.0f peak_rss_mb=%.0f%s\n",
			res.Workload, res.TokensPerSecond, res.StepMsMedian, res.PeakRSSMB, extra)
	}
	return nil
}

// round2 rounds v to 2 decimals.
func round2(v float64) float64 { return roundDigits(v, 2) }

// roundDigits returns the float64 nearest to v rounded to n decimals, which JSON then
// writes with at most n decimals (0.3609, where dividing 36.09 by 100 wrote
// 0.36090000000000005).
func roundDigits(v float64, n int) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', n, 64), 64)
	return r
}
