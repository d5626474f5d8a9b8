package tun

import "strconv"

// Device is a batch-shaped packet device, in the style of wireguard-go's
// tun.Device: the real TUN ([NativeTun]) and, later, in-memory and netstack
// devices share it. Frames are a VirtioNetHdr followed by an IP packet.
type Device interface {
	// Read reads up to len(bufs) frames, frame i into bufs[i][offset:] with
	// its length in sizes[i]. It blocks until at least one frame is there,
	// then takes whatever else is ready without blocking again.
	Read(bufs [][]byte, sizes []int, offset int) (n int, err error)
	// Write writes the frames bufs[i][offset:]. On error, n frames were
	// written and bufs[n] is the one that failed.
	Write(bufs [][]byte, offset int) (n int, err error)
	// BatchSize is the number of frames Read and Write handle at best per
	// call; callers size their batches with it.
	BatchSize() int
	// Name is the interface name.
	Name() string
	// Close releases the device; a blocked Read returns.
	Close() error
}

// Offload is a set of TUN offload features: the kernel's TUN_F_* bits as
// given to TUNSETOFFLOAD. With a feature on, the kernel may hand over
// frames that need it (partial checksums, super-packets); it accepts such
// frames on Write whatever was negotiated.
type Offload uint32

// TUN_F_* (include/uapi/linux/if_tun.h).
const (
	OffloadCsum Offload = 0x01 // TUN_F_CSUM: partial checksums (NEEDS_CSUM)
	OffloadTSO4 Offload = 0x02 // TUN_F_TSO4: TCP over IPv4 super-packets
	OffloadTSO6 Offload = 0x04 // TUN_F_TSO6: TCP over IPv6 super-packets
	OffloadUSO4 Offload = 0x20 // TUN_F_USO4: UDP over IPv4 super-packets (Linux 6.2)
	OffloadUSO6 Offload = 0x40 // TUN_F_USO6: UDP over IPv6 super-packets (Linux 6.2)

	// DefaultOffloads is what vpclab asks for: everything it can forward
	// whole or split in software.
	DefaultOffloads = OffloadCsum | OffloadTSO4 | OffloadTSO6 | OffloadUSO4 | OffloadUSO6
)

// String lists the features, e.g. "csum|tso4|tso6", or "none".
func (o Offload) String() string {
	if o == 0 {
		return "none"
	}
	names := [...]struct {
		bit  Offload
		name string
	}{{OffloadCsum, "csum"}, {OffloadTSO4, "tso4"}, {OffloadTSO6, "tso6"}, {OffloadUSO4, "uso4"}, {OffloadUSO6, "uso6"}}
	var s string
	for _, n := range names {
		if o&n.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += n.name
			o &^= n.bit
		}
	}
	if o != 0 {
		if s != "" {
			s += "|"
		}
		s += "0x" + strconv.FormatUint(uint64(o), 16)
	}
	return s
}

// offloadLadder returns the offload sets tried in turn for want: all of
// it, then without USO (kernels before 6.2 reject those bits with EINVAL),
// then checksums only, then nothing. Sets equal to the previous one are
// skipped.
func offloadLadder(want Offload) []Offload {
	steps := [...]Offload{
		want,
		want &^ (OffloadUSO4 | OffloadUSO6),
		want & OffloadCsum,
		0,
	}
	out := make([]Offload, 0, len(steps))
	for _, s := range steps {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// negotiateOffloads walks offloadLadder(want), calling set for each step,
// and returns the first set the kernel accepted. set fails only for a
// refusal; the last step (no offloads) failing is an error.
func negotiateOffloads(want Offload, set func(Offload) error) (Offload, error) {
	var err error
	for _, o := range offloadLadder(want) {
		if err = set(o); err == nil {
			return o, nil
		}
	}
	return 0, err
}
