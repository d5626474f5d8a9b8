//go:build race

package conntrack

// raceEnabled: the race detector slows the table some 20×; long tests shrink.
const raceEnabled = true
