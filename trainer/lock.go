package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// One run per output_dir. Run holds output_dir/.lock from its first step to its return:
// a file holding the holder's pid, host and start time as JSON, locked with
// flock(LOCK_EX|LOCK_NB) on a descriptor kept open for the whole run (lock_flock.go). The
// kernel drops that lock when the process ends, however it ends (kill -9 included), so
// a lock file left behind by a dead run never blocks the next one; Run removes the file
// when it returns. Where there is no flock (Windows, AIX, Plan 9, WebAssembly), a
// best-effort fallback takes its place (lock_other.go). Commands that only read a
// directory (eval, generate, merge) take no lock.
const lockFile = ".lock"

// ErrOutputDirInUse is matched (errors.Is) by Run's error when another run holds the
// output_dir.
var ErrOutputDirInUse = errors.New("output_dir is in use by another run")

// lockInfo is the content of output_dir/.lock: who holds it, since when.
type lockInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Start time.Time `json:"start"`
}

// thisProcess returns the lockInfo of this process, starting now.
func thisProcess() lockInfo {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return lockInfo{PID: os.Getpid(), Host: host, Start: time.Now().UTC().Truncate(time.Second)}
}

// readLockInfo returns the holder recorded in the lock file at path, or nil when it
// cannot be read or parsed (a holder that has not written it yet, say).
func readLockInfo(path string) *lockInfo {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var info lockInfo
	if json.Unmarshal(raw, &info) != nil || info.PID == 0 {
		return nil
	}
	return &info
}

// inUseError is the error of a lock held by another run: one line naming the directory
// and, when the lock file says, the holder.
type inUseError struct {
	dir    string
	holder *lockInfo // nil when the lock file does not say
	hint   string    // appended, when not empty, after "; "
}

func (e *inUseError) Error() string {
	s := fmt.Sprintf("output_dir %s is in use by another process (%s is locked)", e.dir, filepath.Join(e.dir, lockFile))
	if h := e.holder; h != nil {
		s = fmt.Sprintf("output_dir %s is in use by pid %d on host %s since %s", e.dir, h.PID, h.Host, h.Start.UTC().Format(time.RFC3339))
	}
	if e.hint != "" {
		s += "; " + e.hint
	}
	return s
}

// Is makes errors.Is(err, ErrOutputDirInUse) true.
func (e *inUseError) Is(target error) bool { return target == ErrOutputDirInUse }

// dirLock is a held lock on an output_dir.
type dirLock struct {
	path string   // output_dir/.lock
	f    *os.File // open for the whole run: closing it drops the lock
}

// lockOutputDir creates dir if it does not exist and locks it for this process, or
// returns an error matching ErrOutputDirInUse that names the holder.
func lockOutputDir(dir string) (*dirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output_dir: %w", err)
	}
	l, err := lockPath(dir, filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	if err := l.writeInfo(thisProcess()); err != nil {
		l.release()
		return nil, fmt.Errorf("lock output_dir %s: write %s: %w", dir, l.path, err)
	}
	return l, nil
}

// writeInfo replaces the lock file's content with info, once the lock is held.
func (l *dirLock) writeInfo(info lockInfo) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(append(raw, '\n'), 0); err != nil {
		return err
	}
	return l.f.Sync()
}
