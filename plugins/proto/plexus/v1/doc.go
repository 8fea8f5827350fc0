// Package plexusv1 is the generated code of the plexus.v1 plugin protocol
// (plexus.proto). Regenerate it with gen.sh (`make proto`); do not edit the .pb.go files.
package plexusv1
