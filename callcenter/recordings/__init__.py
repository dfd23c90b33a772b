"""Call recordings (录音): stored once by SHA-256, analysed, linked to their calls, heard by
those who may, deleted only by the hotline's rules, every access in a tamper-evident log."""
