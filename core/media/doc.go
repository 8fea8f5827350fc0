// Package media decodes and encodes the images and audio that every plexus stage
// shares, behind explicit limits, so that a hostile file costs an error, not the process.
// It also sniffs a payload's modality from its first bytes with the decoders' own magic table.
package media
