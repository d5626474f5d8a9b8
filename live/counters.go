package live

import (
	"sync/atomic"

	"github.com/vpclab/vpclab/verdict"
)

// Counters count what one device sent into the dataplane. Its reader alone
// updates them, with atomics; Load reads them at any time. A GSO
// super-packet counts as the segments it stands for.
type Counters struct {
	allowedPackets, allowedBytes atomic.Uint64
	superPackets                 atomic.Uint64
	drops                        [verdict.NumStages][verdict.NumCodes]struct{ packets, bytes atomic.Uint64 }
	service, serviceDropped      atomic.Uint64
	serviceSuper                 atomic.Uint64
	writeErrors                  atomic.Uint64
}

// Stats is a reading of Counters. Bytes are IP bytes.
type Stats struct {
	// AllowedPackets and AllowedBytes count the packets forwarded.
	AllowedPackets, AllowedBytes uint64
	// SuperPackets counts the GSO super-packets among them, each judged
	// once and forwarded whole.
	SuperPackets uint64
	// DeniedPackets and DeniedBytes count the packets dropped, by the
	// stage that dropped them.
	DeniedPackets, DeniedBytes [verdict.NumStages]uint64
	// DeniedByCode counts the packets dropped, by the verdict's code (the
	// reason within the stage).
	DeniedByCode [verdict.NumCodes]uint64
	// DeniedPacketsBy and DeniedBytesBy count the packets dropped by stage
	// and code together; the three fields above are their sums.
	DeniedPacketsBy, DeniedBytesBy [verdict.NumStages][verdict.NumCodes]uint64
	// ServicePackets counts the packets allowed to the VPC's built-in
	// services and handed to them (a GSO super-packet as the packets it
	// was cut into).
	ServicePackets uint64
	// ServiceSuperPackets counts the GSO super-packets among them, cut
	// into packets before they were handed over.
	ServiceSuperPackets uint64
	// ServiceDropped counts the packets allowed to the services that
	// could not be handed to them: a malformed GSO super-packet or
	// checksum offsets outside the packet.
	ServiceDropped uint64
	// WriteErrors counts the allowed frames the destination device
	// refused.
	WriteErrors uint64
}

// Load reads the counters. Each is read atomically, the set is not: a
// packet may be missing from one field and counted in the next.
func (c *Counters) Load() Stats {
	s := Stats{
		AllowedPackets: c.allowedPackets.Load(),
		AllowedBytes:   c.allowedBytes.Load(),
		SuperPackets:   c.superPackets.Load(),
		ServicePackets: c.service.Load(),
		ServiceDropped: c.serviceDropped.Load(),

		ServiceSuperPackets: c.serviceSuper.Load(),
		WriteErrors:         c.writeErrors.Load(),
	}
	for st := range c.drops {
		for code := range c.drops[st] {
			p, b := c.drops[st][code].packets.Load(), c.drops[st][code].bytes.Load()
			s.DeniedPacketsBy[st][code], s.DeniedBytesBy[st][code] = p, b
			s.DeniedPackets[st] += p
			s.DeniedBytes[st] += b
			s.DeniedByCode[code] += p
		}
	}
	return s
}

// Denied returns the packets dropped at any stage.
func (s Stats) Denied() uint64 {
	var n uint64
	for _, p := range s.DeniedPackets {
		n += p
	}
	return n
}

func (c *Counters) denied(stage verdict.Stage, code verdict.Code, packets, bytes uint64) {
	if stage >= verdict.NumStages {
		stage = verdict.StageNone
	}
	if code >= verdict.NumCodes {
		code = verdict.CodeNone
	}
	d := &c.drops[stage][code]
	d.packets.Add(packets)
	d.bytes.Add(bytes)
}
