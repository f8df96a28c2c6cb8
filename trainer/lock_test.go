package trainer

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
)

// TestLockOutputDir: the lock is taken in a fresh directory and over a lock file that
// no process holds (a dead run's, or garbage); a held one is refused with one line
// naming the directory and the holder; release frees it and removes the file.
func TestLockOutputDir(t *testing.T) {
	writeLockFile := func(content string) func(t *testing.T, dir string) func() {
		return func(t *testing.T, dir string) func() {
			require.NoError(t, os.WriteFile(filepath.Join(dir, lockFile), []byte(content), 0o644))
			return func() {}
		}
	}
	holdLock := func(content *string) func(t *testing.T, dir string) func() {
		return func(t *testing.T, dir string) func() {
			l, err := lockOutputDir(dir)
			require.NoError(t, err)
			if content != nil { // as a holder that has not written its lock file yet
				require.NoError(t, os.WriteFile(l.path, []byte(*content), 0o644))
			}
			return func() { require.NoError(t, l.release()) }
		}
	}
	empty := ""
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) (undo func())
		want  func(dir string) string // a regular expression for the error; nil: the lock is taken
	}{
		{"fresh dir", func(*testing.T, string) func() { return func() {} }, nil},
		{"stale lock file of a dead process", writeLockFile(`{"pid": 2147483646, "host": "gone", "start": "2026-12-02T01:02:03Z"}`), nil},
		{"unparsable lock file", writeLockFile("\x00\x00\x00"), nil},
		{"held by another run", holdLock(nil), func(dir string) string {
			return fmt.Sprintf(`^output_dir %s is in use by pid %d on host %s since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`,
				regexp.QuoteMeta(dir), os.Getpid(), regexp.QuoteMeta(thisProcess().Host))
		}},
		{"held, holder not written yet", holdLock(&empty), func(dir string) string {
			return "^" + regexp.QuoteMeta(fmt.Sprintf("output_dir %s is in use by another process (%s is locked)", dir, filepath.Join(dir, lockFile))) + "$"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			require.NoError(t, os.MkdirAll(dir, 0o755))
			undo := tc.setup(t, dir)
			l, err := lockOutputDir(dir)
			if tc.want != nil {
				require.ErrorIs(t, err, ErrOutputDirInUse)
				assert.Regexp(t, tc.want(dir), err.Error())
				undo()
				l, err = lockOutputDir(dir) // free again
			}
			require.NoError(t, err)
			info := readLockInfo(filepath.Join(dir, lockFile))
			require.NotNil(t, info, "the lock file names its holder")
			assert.Equal(t, os.Getpid(), info.PID)
			assert.WithinDuration(t, time.Now(), info.Start, 2*time.Second)
			require.NoError(t, l.release())
			assert.NoFileExists(t, filepath.Join(dir, lockFile), "release removes the lock file")
		})
	}
}

// TestRunRefusesBusyOutputDir: a Run into an output_dir that another run holds fails at
// once, naming the holder, and touches nothing.
func TestRunRefusesBusyOutputDir(t *testing.T) {
	// Held by a run in progress.
	r := testRecipe(t, "train.max_steps=2", "train.eval_steps=0", "train.save_steps=0")
	var second error
	res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), OnStep(func(l StepLog) {
		if l.Step == 1 {
			_, second = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
		}
	}))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Steps, "the first run went on")
	require.ErrorIs(t, second, ErrOutputDirInUse)
	assert.Contains(t, second.Error(), fmt.Sprintf("output_dir %s is in use by pid %d on host ", r.OutputDir, os.Getpid()))
	assert.NotContains(t, second.Error(), "\n")
	assert.NoFileExists(t, filepath.Join(r.OutputDir, lockFile), "the lock file outlived its run")

	// Held by another process (here, the test): nothing is written.
	r = testRecipe(t)
	l, err := lockOutputDir(r.OutputDir)
	require.NoError(t, err)
	_, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.ErrorIs(t, err, ErrOutputDirInUse)
	entries, err := os.ReadDir(r.OutputDir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, lockFile, entries[0].Name())
	require.NoError(t, l.release())
}

// killedRunEnv names the recipe that TestKilledRunHelper runs in a child process.
const killedRunEnv = "LLMTUNE_TEST_KILLED_RUN"

// TestKilledRunHelper is the child process of TestKillNine, not a test of its own: it runs
// the recipe named by $LLMTUNE_TEST_KILLED_RUN, prints "step 4" after step 4 and waits
// there to be killed.
func TestKilledRunHelper(t *testing.T) {
	path := os.Getenv(killedRunEnv)
	if path == "" {
		t.Skip("the child process of TestKillNine")
	}
	r, err := LoadRecipe(path)
	require.NoError(t, err)
	_, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), OnStep(func(l StepLog) {
		if l.Step == 4 {
			fmt.Println("step 4")
			time.Sleep(time.Hour)
		}
	}))
	require.NoError(t, err)
}

// TestKillNine kills a run (SIGKILL on Unix, TerminateProcess on Windows) after step 4,
// its last checkpoint being step 3's: while it runs, a second run on its output_dir is
// refused, naming its pid; once it is dead, its lock file blocks nothing, and
// resume_from_checkpoint=auto continues from step 3 with the losses of an uninterrupted
// run and a metrics.jsonl without duplicates.
func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	full, err := Run(context.Background(), testRecipe(t), WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)

	r := testRecipe(t, "train.eval_steps=0") // save_steps 3
	y, err := r.YAML()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "recipe.yaml")
	require.NoError(t, os.WriteFile(path, y, 0o644))
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunHelper$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), killedRunEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "step 4" {
	}
	require.NoError(t, sc.Err())

	r.Train.ResumeFromCheckpoint = "auto"
	_, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.ErrorIs(t, err, ErrOutputDirInUse)
	assert.Contains(t, err.Error(), fmt.Sprintf("output_dir %s is in use by pid %d on host ", r.OutputDir, cmd.Process.Pid))

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	raw, err := os.ReadFile(filepath.Join(r.OutputDir, lockFile))
	require.NoError(t, err, "a killed run leaves its lock file")
	var info lockInfo
	require.NoError(t, json.Unmarshal(raw, &info))
	assert.Equal(t, cmd.Process.Pid, info.PID)

	rest, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err, "the dead run's lock file blocks nothing")
	assert.Equal(t, lossesOf(full.Logs[3:]), lossesOf(rest.Logs), "losses after resuming from checkpoint-3")
	steps, _, err := readMetrics(filepath.Join(r.OutputDir, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, lossesOf(full.Logs), lossesOf(steps), "metrics.jsonl of the killed and resumed run")
}
