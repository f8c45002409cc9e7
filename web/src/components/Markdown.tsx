/** A question's prompt, written in Markdown. react-markdown builds React elements and drops
 * raw HTML, so a question document cannot put script or markup on the page. */
import { Code, List, Text, TypographyStylesProvider } from "@mantine/core";
import ReactMarkdown from "react-markdown";

export function Markdown({ children }: { children: string }) {
  return (
    <TypographyStylesProvider fz="sm">
      <ReactMarkdown
        skipHtml
        components={{
          p: ({ children }) => <Text size="sm" mb="xs">{children}</Text>,
          code: ({ children, className }) =>
            className ? <Code block>{children}</Code> : <Code>{children}</Code>,
          pre: ({ children }) => <>{children}</>,
          ul: ({ children }) => <List size="sm" mb="xs">{children}</List>,
          li: ({ children }) => <List.Item>{children}</List.Item>,
        }}
      >
        {children}
      </ReactMarkdown>
    </TypographyStylesProvider>
  );
}
