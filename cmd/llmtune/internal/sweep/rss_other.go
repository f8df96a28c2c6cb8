//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sweep

import "os"

// maxRSS returns 0: the peak memory of a child process is not known here.
func maxRSS(*os.ProcessState) int64 { return 0 }
