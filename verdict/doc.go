// Package verdict is the vocabulary of a packet's fate: the stages of the
// packet path (spec §5), the codes that explain a decision, the ports a
// packet enters and leaves by, the security-group rule reference, and the
// Verdict and Trace the engine fills in.
//
// It is the ground floor every observer, explainer and test oracle names a
// verdict through, so it imports only the standard library and packet: it
// must never link the engine, the lab model or a YAML decoder.
package verdict
