package services

import (
	"encoding/binary"
	"time"
)

// NTP constants (RFC 5905).
const (
	ntpPacketLen  = 48
	ntpModeClient = 3
	ntpModeServer = 4
	ntpStratum    = 3
	ntpPrecision  = 0xec // -20 as an int8: 2^-20 s, about a microsecond
	// ntpEpochOffset is the number of seconds from 1900-01-01 (NTP's era 0)
	// to 1970-01-01.
	ntpEpochOffset = 2208988800
)

// timeSyncRefID is the reference id of the replies: the IPv4 address of
// the server's upstream for stratum 2 and up, here 169.254.169.123 as AWS
// shows it.
var timeSyncRefID = [4]byte{169, 254, 169, 123}

// SNTPReply writes into resp, which must hold 48 bytes, the server reply
// (mode 4, stratum 3) to the SNTP client request req (mode 3), received at
// rx and sent at tx, and returns its length; ok is false when req is not a
// client request and deserves no reply. The reply echoes the request's
// version and poll, carries refID, a reference time of rx, the request's
// transmit time as origin time, rx as receive time and tx as transmit
// time.
func SNTPReply(req, resp []byte, rx, tx time.Time, refID [4]byte) (n int, ok bool) {
	if len(req) < ntpPacketLen || len(resp) < ntpPacketLen || req[0]&7 != ntpModeClient {
		return 0, false
	}
	vn := req[0] >> 3 & 7
	if vn < 1 || vn > 4 {
		return 0, false
	}
	r := resp[:ntpPacketLen]
	clear(r)
	r[0] = vn<<3 | ntpModeServer // LI 0: no leap second pending
	r[1] = ntpStratum
	r[2] = req[2] // poll
	r[3] = ntpPrecision
	binary.BigEndian.PutUint32(r[4:], 0x00000010) // root delay: 1/4096 s
	binary.BigEndian.PutUint32(r[8:], 0x00000010) // root dispersion
	copy(r[12:16], refID[:])
	putNTPTime(r[16:], rx)     // reference
	copy(r[24:32], req[40:48]) // origin: the client's transmit time
	putNTPTime(r[32:], rx)     // receive
	putNTPTime(r[40:], tx)     // transmit
	return ntpPacketLen, true
}

// putNTPTime writes t as a 64-bit NTP timestamp: seconds since 1900 (mod
// 2^32, so era 1 from 2036 on) and a binary fraction.
func putNTPTime(b []byte, t time.Time) {
	sec := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	binary.BigEndian.PutUint32(b, uint32(sec))
	binary.BigEndian.PutUint32(b[4:], uint32(frac))
}

// NTPTime decodes a 64-bit NTP timestamp in era 0 or, for seconds below
// 2^31, era 1 (2036–2104).
func NTPTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint32(b))
	if sec < 1<<31 {
		sec += 1 << 32
	}
	frac := uint64(binary.BigEndian.Uint32(b[4:]))
	return time.Unix(sec-ntpEpochOffset, int64((frac*1e9+1<<31)>>32))
}
