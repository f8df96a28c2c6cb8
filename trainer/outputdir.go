package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutputDirUsed is matched (errors.Is) by Run's error when a run that starts afresh
// finds output_dir holding a previous run and the recipe does not set
// overwrite_output_dir.
var ErrOutputDirUsed = errors.New("output_dir already holds a run")

// runFiles are what a run leaves in output_dir that a new run would overwrite, and
// whether each is a directory; the first four mean that output_dir holds a run, and
// overwrite_output_dir removes them all. config.yaml and the lock file stay: the first
// is rewritten by every run, the second belongs to the run holding the directory.
var runFiles = []struct {
	name  string
	isDir bool
	isRun bool
}{
	{checkpointsDir, true, true},
	{"adapter", true, true},
	{"model", true, true},
	{"metrics.jsonl", false, true},
	{"loss.png", false, false},
}

// previousRun returns the names of runFiles present in dir (directories with a trailing
// "/"), and whether any of them means that dir holds a run.
func previousRun(dir string) (present []string, holdsRun bool, err error) {
	for _, f := range runFiles {
		_, err := os.Lstat(filepath.Join(dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("inspect output_dir: %w", err)
		}
		name := f.name
		if f.isDir {
			name += "/"
		}
		present = append(present, name)
		holdsRun = holdsRun || f.isRun
	}
	return present, holdsRun, nil
}

// sentinelError is an error with its own message that matches a sentinel (errors.Is).
type sentinelError struct {
	msg      string
	sentinel error
}

func (e *sentinelError) Error() string        { return e.msg }
func (e *sentinelError) Is(target error) bool { return target == e.sentinel }

// planOutputDir decides, before anything is loaded or written, what the run does with
// output_dir: resume from a checkpoint (t.resumeFrom); start afresh in it, after
// removing the previous run's files when overwrite_output_dir says so (t.clear); or
// stop, with an error matching ErrOutputDirUsed, because it holds a run and the recipe
// says neither to resume it nor to overwrite it.
func (t *run) planOutputDir() error {
	r := t.recipe
	dir, damaged, err := t.resumeDir()
	if err != nil {
		return err
	}
	if dir != "" {
		t.resumeFrom = dir
		return nil
	}
	present, holdsRun, err := previousRun(r.OutputDir)
	if err != nil || len(present) == 0 {
		return err
	}
	if r.OverwriteOutputDir {
		t.clear = present
		return nil
	}
	if !holdsRun {
		return nil // a lone loss.png: the new run redraws it
	}
	what := strings.Join(present, ", ")
	msg := fmt.Sprintf("output_dir %s already holds a run (%s): continue it with train.resume_from_checkpoint=auto, "+
		"keep it and use another output_dir, or replace it with overwrite_output_dir=true", r.OutputDir, what)
	if r.Train.ResumeFromCheckpoint == "auto" {
		none := "no checkpoint to resume from"
		if len(damaged) > 0 {
			none = fmt.Sprintf("no usable checkpoint to resume from (damaged: %s)", strings.Join(damaged, ", "))
		}
		msg = fmt.Sprintf("output_dir %s already holds a run (%s) but %s: "+
			"keep it and use another output_dir, or replace it with overwrite_output_dir=true", r.OutputDir, what, none)
	}
	return &sentinelError{msg: msg, sentinel: ErrOutputDirUsed}
}

// clearPrevious removes the previous run's files that planOutputDir found
// (overwrite_output_dir) and says so on the progress writer.
func (t *run) clearPrevious() error {
	if len(t.clear) == 0 {
		return nil
	}
	dir := t.recipe.OutputDir
	for _, name := range t.clear {
		if err := os.RemoveAll(filepath.Join(dir, strings.TrimSuffix(name, "/"))); err != nil {
			return fmt.Errorf("overwrite_output_dir: %w", err)
		}
	}
	if t.s.progress != nil {
		fmt.Fprintf(t.s.progress, "overwrite_output_dir: removed the previous run's %s from %s\n", strings.Join(t.clear, ", "), dir)
	}
	return nil
}
