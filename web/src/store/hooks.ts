import { useEffect, useState } from "preact/hooks";
import type { Observable } from "./observable";

/** Re-render the component whenever the observable changes. */
export function useObservable<T>(observable: Observable<T>): T {
  const [value, setValue] = useState(observable.get());
  useEffect(() => {
    setValue(observable.get());
    return observable.subscribe(setValue);
  }, [observable]);
  return value;
}
