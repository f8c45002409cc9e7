"""interviews service: question bank, interview sessions, weekly quota."""
