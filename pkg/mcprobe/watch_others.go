//go:build !linux

package mcprobe

import "net/netip"

// ReportWatch counts the IGMP / MLD membership reports for one group that
// leave one device. It is Linux-only; elsewhere WatchReports fails.
type ReportWatch struct{}

// WatchReports fails: not supported on this OS.
func WatchReports(_ *Config, _ int, _ netip.Addr) (*ReportWatch, error) { return nil, errUnsupported }

// Count returns 0.
func (w *ReportWatch) Count() int { return 0 }

// Close does nothing.
func (w *ReportWatch) Close() error { return nil }
