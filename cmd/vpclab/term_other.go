//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package main

// isTerminal reports whether fd is a terminal: never, where vpclab does not
// know how to ask; replay then draws no progress bar.
func isTerminal(fd uintptr) bool { return false }
