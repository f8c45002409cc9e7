/** A table that scrolls sideways on a narrow screen, and whose scrolling region a keyboard
 * can reach (axe: scrollable-region-focusable): focusable, and named for screen readers. */
import { Table } from "@mantine/core";
import type { CSSProperties, ReactNode } from "react";

export function ScrollTable({
  label,
  minWidth,
  children,
}: {
  label: string;
  minWidth: CSSProperties["minWidth"];
  children: ReactNode;
}) {
  return (
    <Table.ScrollContainer
      minWidth={minWidth}
      scrollAreaProps={{ viewportProps: { tabIndex: 0, role: "region", "aria-label": label } }}
    >
      {children}
    </Table.ScrollContainer>
  );
}
