"""ai-runner service: code judge, rubric scoring, transcripts."""
