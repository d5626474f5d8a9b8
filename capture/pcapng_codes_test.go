package capture

// Option codes of the pcapng format (draft-ietf-opsawg-pcapng), written
// out here from the draft so that the tests check pcap's writer against
// the format rather than against its own constants.
const (
	optComment    = 1
	ifName        = 2
	ifDescription = 3
	ifTSResol     = 9
	epbFlags      = 2
	isbIfRecv     = 4
	isbIfDrop     = 5
	isbUsrDeliv   = 8
)
