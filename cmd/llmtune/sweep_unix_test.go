//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/cmd/llmtune/internal/sweep"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestSweepSharedRuns holds one run's sweep.lock as a second sweep process would: the
// sweep skips that run, trains the others, and leaves that variant's pick unevaluated;
// once the lock is let go, the sweep trains the run and evaluates the pick.
func TestSweepSharedRuns(t *testing.T) {
	t.Setenv("LLMTUNE_TEST_AS_MAIN", "1")
	sweepPath, _, _, _ := sweepFixture(t, "")
	out := filepath.Join(filepath.Dir(sweepPath), "sweep")
	held := filepath.Join(out, "reverse", "full", "lr-0.01")
	require.NoError(t, os.MkdirAll(held, 0o755))
	f, err := os.OpenFile(filepath.Join(held, "sweep.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))

	code, stdout, stderr := llmtune(t, "sweep", sweepPath)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "full lr 0.01: running in another sweep process")
	assert.Contains(t, stderr, "sweep reverse full: 1 run(s) still in another sweep process")
	assert.Equal(t, 3, strings.Count(stderr, ": running (log "), stderr)
	assert.NoFileExists(t, filepath.Join(held, sweep.RunFile))
	assert.NoFileExists(t, filepath.Join(out, "reverse", "full", sweep.TestFile), "no pick while a run is out")
	assert.FileExists(t, filepath.Join(out, "reverse", "lora-r2", sweep.TestFile))
	assert.Contains(t, stdout, "3 runs, 1 results")

	require.NoError(t, f.Close()) // the other process ends
	code, stdout, stderr = llmtune(t, "sweep", sweepPath)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 1, strings.Count(stderr, ": running (log "), stderr)
	assert.FileExists(t, filepath.Join(held, sweep.RunFile))
	assert.FileExists(t, filepath.Join(out, "reverse", "full", sweep.TestFile))
	assert.Contains(t, stdout, "4 runs, 2 results")
}
