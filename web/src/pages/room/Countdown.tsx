import { Badge } from "@mantine/core";
import { useEffect, useState } from "react";

function left(deadline: string): number {
  return Math.max(0, Math.floor((Date.parse(deadline) - Date.now()) / 1000));
}

/** Time left in a timed interview; the server submits the saved draft at the deadline. */
export function Countdown({ deadline }: { deadline: string }) {
  const [seconds, setSeconds] = useState(() => left(deadline));
  useEffect(() => {
    const timer = setInterval(() => setSeconds(left(deadline)), 1000);
    return () => clearInterval(timer);
  }, [deadline]);
  const m = Math.floor(seconds / 60);
  const s = String(seconds % 60).padStart(2, "0");
  const colour = seconds < 60 ? "red" : seconds < 300 ? "yellow" : "blue";
  return (
    <Badge size="lg" color={colour} role="timer" aria-label={`${m} minutes ${s} seconds left`}>
      {m}:{s} left
    </Badge>
  );
}
