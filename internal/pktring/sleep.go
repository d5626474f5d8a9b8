package pktring

import "time"

// sleep backs off an idle consumer: up to a millisecond between polls,
// which a tap's latency can afford and an idle lab's CPU appreciates.
func sleep(idle int) {
	d := time.Duration(idle-63) * 10 * time.Microsecond
	if d > time.Millisecond {
		d = time.Millisecond
	}
	time.Sleep(d)
}
