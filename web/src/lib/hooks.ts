import { useEffect, useState } from 'react';

/** The time now, refreshed every `ms` while the component is shown (for call timers and times in state). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
