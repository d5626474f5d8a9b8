package fastpath

import (
	"encoding/binary"

	"github.com/cilium/ebpf/asm"
)

// Offsets in struct __sk_buff (include/uapi/linux/bpf.h), checked against
// the kernel's BTF by the tests.
const (
	skbLen      = 0
	skbProtocol = 16
	skbIfindex  = 40
	skbData     = 76
	skbDataEnd  = 80
	skbGSOSegs  = 164
)

// tc verdicts.
const (
	tcActShot = 2
)

const ethLen = 14

// Offsets in Key and Entry (see their types) and Port.
const (
	keyIfindex = 0
	keyProto   = 4
	keyFamily  = 5
	keyPorts   = 8
	keySrc     = 16
	keyDst     = 32

	entEgress  = 0
	entGen     = 4
	entDstMAC  = 8
	entSrcMAC  = 16
	entPackets = 24
	entBytes   = 32
	entLast    = 40
	entTimeout = 48
	entSuper   = 56

	portTo    = 0
	portFlags = 4
)

// Stack slots of the programs (offsets from R10).
const (
	stKey  = -48 // the flow key, KeySize bytes
	stPort = -56 // a u32 key of the ports or generation map
)

// ttlCsum is htons(0x0100) as the CPU reads it: what a TTL decrement adds
// to IPv4's header checksum, in one's complement (as Linux's
// ip_decrease_ttl).
var ttlCsum = int32(binary.NativeEndian.Uint16([]byte{1, 0}))

// ethertypes as the CPU reads their wire bytes.
var (
	ethIPv4 = int32(binary.NativeEndian.Uint16([]byte{0x08, 0x00}))
	ethIPv6 = int32(binary.NativeEndian.Uint16([]byte{0x86, 0xdd}))
	// fragMask is IPv4's MF bit and fragment offset (0x3fff on the wire).
	fragMask = int32(binary.NativeEndian.Uint16([]byte{0x3f, 0xff}))
)

// portLookup starts both programs: the skb in R6, the packet's port (by
// its ingress ifindex) looked up in the ports map, its entry in R0; a
// port the map does not hold is dropped (the program's "drop" label).
func portLookup(ports int) asm.Instructions {
	R0, R1, R2, R6, R10 := asm.R0, asm.R1, asm.R2, asm.R6, asm.R10
	return asm.Instructions{
		asm.Mov.Reg(R6, R1),
		asm.LoadMem(R2, R6, skbIfindex, asm.Word),
		asm.StoreMem(R10, stPort, R2, asm.Word),
		asm.LoadMapPtr(R1, ports),
		asm.Mov.Reg(R2, R10),
		asm.Add.Imm(R2, stPort),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "drop"),
	}
}

// fastInsns is the program on each peer's ingress: hit → counted, hop
// decremented, MACs rewritten, redirected to the destination peer; miss
// → redirected to the port's TUN device.
func fastInsns(flows, ports, gen int) asm.Instructions {
	R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 := asm.R0, asm.R1, asm.R2, asm.R3, asm.R4, asm.R5, asm.R6, asm.R7, asm.R8, asm.R9, asm.R10
	xadd := func(dst asm.Register, off int16, src asm.Register) asm.Instruction {
		return asm.AddAtomic.Mem(dst, src, asm.DWord, off)
	}
	// The port: NoFast sends everything to userspace.
	return append(portLookup(ports), asm.Instructions{
		asm.LoadMem(R1, R0, portFlags, asm.Word),
		asm.And.Imm(R1, PortNoFast),
		asm.JNE.Imm(R1, 0, "punt"),

		// The key, zeroed first.
		asm.Mov.Imm(R1, 0),
		asm.StoreMem(R10, stKey, R1, asm.DWord),
		asm.StoreMem(R10, stKey+8, R1, asm.DWord),
		asm.StoreMem(R10, stKey+16, R1, asm.DWord),
		asm.StoreMem(R10, stKey+24, R1, asm.DWord),
		asm.StoreMem(R10, stKey+32, R1, asm.DWord),
		asm.StoreMem(R10, stKey+40, R1, asm.DWord),
		asm.LoadMem(R2, R6, skbIfindex, asm.Word),
		asm.StoreMem(R10, stKey+keyIfindex, R2, asm.Word),

		asm.LoadMem(R7, R6, skbData, asm.Word),
		asm.LoadMem(R8, R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(R1, R7),
		asm.Add.Imm(R1, ethLen),
		asm.JGT.Reg(R1, R8, "punt"),
		asm.LoadMem(R1, R7, 12, asm.Half),
		asm.JEq.Imm(R1, ethIPv4, "ipv4"),
		asm.JEq.Imm(R1, ethIPv6, "ipv6"),
		asm.Ja.Label("drop"), // neither IPv4 nor IPv6: a TUN device carries nothing else

		// IPv4 without options, not a fragment, TTL above 1.
		asm.Mov.Reg(R1, R7).WithSymbol("ipv4"),
		asm.Add.Imm(R1, ethLen+20),
		asm.JGT.Reg(R1, R8, "punt"),
		asm.LoadMem(R1, R7, ethLen, asm.Byte),
		asm.JNE.Imm(R1, 0x45, "punt"),
		asm.LoadMem(R1, R7, ethLen+6, asm.Half),
		asm.And.Imm(R1, fragMask),
		asm.JNE.Imm(R1, 0, "punt"),
		asm.LoadMem(R1, R7, ethLen+8, asm.Byte),
		asm.JLE.Imm(R1, 1, "punt"),
		asm.LoadMem(R2, R7, ethLen+9, asm.Byte),
		asm.StoreMem(R10, stKey+keyProto, R2, asm.Byte),
		asm.StoreImm(R10, stKey+keyFamily, 4, asm.Byte),
		asm.LoadMem(R1, R7, ethLen+12, asm.Word),
		asm.StoreMem(R10, stKey+keySrc, R1, asm.Word),
		asm.LoadMem(R1, R7, ethLen+16, asm.Word),
		asm.StoreMem(R10, stKey+keyDst, R1, asm.Word),
		asm.Mov.Imm(R3, ethLen+20),
		asm.Ja.Label("l4"),

		// IPv6, TCP or UDP right after the fixed header, hop limit above 1.
		asm.Mov.Reg(R1, R7).WithSymbol("ipv6"),
		asm.Add.Imm(R1, ethLen+40),
		asm.JGT.Reg(R1, R8, "punt"),
		asm.LoadMem(R1, R7, ethLen, asm.Byte),
		asm.And.Imm(R1, 0xf0),
		asm.JNE.Imm(R1, 0x60, "punt"),
		asm.LoadMem(R1, R7, ethLen+7, asm.Byte),
		asm.JLE.Imm(R1, 1, "punt"),
		asm.LoadMem(R2, R7, ethLen+6, asm.Byte),
		asm.StoreMem(R10, stKey+keyProto, R2, asm.Byte),
		asm.StoreImm(R10, stKey+keyFamily, 6, asm.Byte),
		asm.LoadMem(R1, R7, ethLen+8, asm.DWord),
		asm.StoreMem(R10, stKey+keySrc, R1, asm.DWord),
		asm.LoadMem(R1, R7, ethLen+16, asm.DWord),
		asm.StoreMem(R10, stKey+keySrc+8, R1, asm.DWord),
		asm.LoadMem(R1, R7, ethLen+24, asm.DWord),
		asm.StoreMem(R10, stKey+keyDst, R1, asm.DWord),
		asm.LoadMem(R1, R7, ethLen+32, asm.DWord),
		asm.StoreMem(R10, stKey+keyDst+8, R1, asm.DWord),
		asm.Mov.Imm(R3, ethLen+40),

		// R2 the protocol, R3 where its header starts.
		asm.Mov.Reg(R4, R7).WithSymbol("l4"),
		asm.Add.Reg(R4, R3),
		asm.JEq.Imm(R2, 6, "tcp"),
		asm.JEq.Imm(R2, 17, "udp"),
		asm.Ja.Label("punt"),
		asm.Mov.Reg(R5, R4).WithSymbol("tcp"),
		asm.Add.Imm(R5, 20),
		asm.JGT.Reg(R5, R8, "punt"),
		asm.LoadMem(R1, R4, 13, asm.Byte),
		asm.And.Imm(R1, 0x07), // FIN, SYN, RST: the engine's
		asm.JNE.Imm(R1, 0, "punt"),
		asm.Ja.Label("ports"),
		asm.Mov.Reg(R5, R4).WithSymbol("udp"),
		asm.Add.Imm(R5, 8),
		asm.JGT.Reg(R5, R8, "punt"),
		asm.LoadMem(R1, R4, 0, asm.Word).WithSymbol("ports"),
		asm.StoreMem(R10, stKey+keyPorts, R1, asm.Word),

		// The entry.
		asm.LoadMapPtr(R1, flows),
		asm.Mov.Reg(R2, R10),
		asm.Add.Imm(R2, stKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "punt"),
		asm.Mov.Reg(R9, R0),
		// Of this generation.
		asm.StoreImm(R10, stPort, 0, asm.Word),
		asm.LoadMapPtr(R1, gen),
		asm.Mov.Reg(R2, R10),
		asm.Add.Imm(R2, stPort),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "punt"),
		asm.LoadMem(R1, R0, 0, asm.Word),
		asm.LoadMem(R2, R9, entGen, asm.Word),
		asm.JNE.Reg(R1, R2, "punt"),
		// Not idle past its timeout.
		asm.FnKtimeGetNs.Call(),
		asm.Mov.Reg(R2, R0),
		asm.LoadMem(R1, R9, entLast, asm.DWord),
		asm.Sub.Reg(R2, R1),
		asm.LoadMem(R1, R9, entTimeout, asm.DWord),
		asm.JSGE.Reg(R2, R1, "punt"),
		asm.StoreMem(R9, entLast, R0, asm.DWord),
		asm.LoadMem(R1, R6, skbGSOSegs, asm.Word),
		asm.JNE.Imm(R1, 0, "count"),
		asm.Mov.Imm(R1, 1),
		xadd(R9, entPackets, R1).WithSymbol("count"),
		asm.JLE.Imm(R1, 1, "bytes"),
		asm.Mov.Imm(R1, 1),
		xadd(R9, entSuper, R1),
		asm.LoadMem(R1, R6, skbLen, asm.Word).WithSymbol("bytes"),
		asm.Sub.Imm(R1, ethLen),
		xadd(R9, entBytes, R1),

		// The hop.
		asm.LoadMem(R1, R10, stKey+keyFamily, asm.Byte),
		asm.JEq.Imm(R1, 6, "hop6"),
		asm.LoadMem(R1, R7, ethLen+8, asm.Byte),
		asm.Sub.Imm(R1, 1),
		asm.StoreMem(R7, ethLen+8, R1, asm.Byte),
		asm.LoadMem(R1, R7, ethLen+10, asm.Half),
		asm.Add.Imm(R1, ttlCsum),
		asm.JLT.Imm(R1, 0xffff, "csum"),
		asm.Add.Imm(R1, 1),
		asm.StoreMem(R7, ethLen+10, R1, asm.Half).WithSymbol("csum"),
		asm.Ja.Label("mac"),
		asm.LoadMem(R1, R7, ethLen+7, asm.Byte).WithSymbol("hop6"),
		asm.Sub.Imm(R1, 1),
		asm.StoreMem(R7, ethLen+7, R1, asm.Byte),

		// The MACs, and away.
		asm.LoadMem(R1, R9, entDstMAC, asm.Word).WithSymbol("mac"),
		asm.StoreMem(R7, 0, R1, asm.Word),
		asm.LoadMem(R1, R9, entDstMAC+4, asm.Half),
		asm.StoreMem(R7, 4, R1, asm.Half),
		asm.LoadMem(R1, R9, entSrcMAC, asm.Word),
		asm.StoreMem(R7, 6, R1, asm.Word),
		asm.LoadMem(R1, R9, entSrcMAC+4, asm.Half),
		asm.StoreMem(R7, 10, R1, asm.Half),
		asm.LoadMem(R1, R9, entEgress, asm.Word),
		asm.Mov.Imm(R2, 0),
		asm.FnRedirect.Call(),
		asm.Return(),

		// To userspace, through the port's TUN device.
		asm.LoadMem(R2, R6, skbIfindex, asm.Word).WithSymbol("punt"),
		asm.StoreMem(R10, stPort, R2, asm.Word),
		asm.LoadMapPtr(R1, ports),
		asm.Mov.Reg(R2, R10),
		asm.Add.Imm(R2, stPort),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(R0, 0, "drop"),
		asm.LoadMem(R1, R0, portTo, asm.Word),
		asm.Mov.Imm(R2, 0),
		asm.FnRedirect.Call(),
		asm.Return(),

		asm.Mov.Imm(R0, tcActShot).WithSymbol("drop"),
		asm.Return(),
	}...)
}

// deliverInsns is the program on each TUN device's ingress: an Ethernet
// header pushed, then redirected to the port's peer.
func deliverInsns(ports int) asm.Instructions {
	R0, R1, R2, R3, R6, R7, R8, R9 := asm.R0, asm.R1, asm.R2, asm.R3, asm.R6, asm.R7, asm.R8, asm.R9
	return append(portLookup(ports), asm.Instructions{
		asm.Mov.Reg(R9, R0),
		asm.Mov.Reg(R1, R6),
		asm.Mov.Imm(R2, ethLen),
		asm.Mov.Imm(R3, 0),
		asm.FnSkbChangeHead.Call(),
		asm.JNE.Imm(R0, 0, "drop"),
		asm.LoadMem(R7, R6, skbData, asm.Word),
		asm.LoadMem(R8, R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(R1, R7),
		asm.Add.Imm(R1, ethLen),
		asm.JGT.Reg(R1, R8, "drop"),
		asm.LoadMem(R1, R9, entDstMAC, asm.Word),
		asm.StoreMem(R7, 0, R1, asm.Word),
		asm.LoadMem(R1, R9, entDstMAC+4, asm.Half),
		asm.StoreMem(R7, 4, R1, asm.Half),
		asm.LoadMem(R1, R9, entSrcMAC, asm.Word),
		asm.StoreMem(R7, 6, R1, asm.Word),
		asm.LoadMem(R1, R9, entSrcMAC+4, asm.Half),
		asm.StoreMem(R7, 10, R1, asm.Half),
		asm.LoadMem(R1, R6, skbProtocol, asm.Word),
		asm.StoreMem(R7, 12, R1, asm.Half),
		asm.LoadMem(R1, R9, portTo, asm.Word),
		asm.Mov.Imm(R2, 0),
		asm.FnRedirect.Call(),
		asm.Return(),
		asm.Mov.Imm(R0, tcActShot).WithSymbol("drop"),
		asm.Return(),
	}...)
}
