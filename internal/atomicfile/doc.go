// Package atomicfile replaces files so that a reader, or a crash, sees either the old
// contents or the new, never a mix or a truncated file. It is the one atomic writer of
// the repository: Write streams into the new file (safetensors.Write uses it for
// tensors), WriteFile stores a []byte (configs, tokenizer files, logs, charts), and
// SyncDir makes a directory's new entries durable (checkpoints).
//
// The data go to a temporary file in the target's directory (so the rename stays on one
// file system), which is fsynced, closed and renamed over the target; then the directory
// is fsynced. Whatever fails, the temporary file is removed and the previous file is
// untouched.
//
// Permissions follow one rule, that of os.WriteFile(path, data, 0o644): a new file gets
// 0644 less the process umask, and a regular file that is replaced keeps its permission
// bits. Unlike os.WriteFile, the directory entry at path is replaced, not written
// through: a symbolic link at path becomes a regular file and its target is left alone,
// and the new file belongs to the writing user.
package atomicfile
