/** CodeMirror 6, loaded in its own chunk with the interview room's code questions. */
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";
import { Compartment, EditorState } from "@codemirror/state";
import { basicSetup, EditorView } from "codemirror";
import { useEffect, useRef } from "react";

const languages: Record<string, () => ReturnType<typeof python>> = { python, javascript };

type Props = {
  value: string;
  language: string;
  label: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
};

export default function CodeEditor({ value, language, label, onChange, onBlur }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const lang = useRef(new Compartment());
  const callbacks = useRef({ onChange, onBlur });
  callbacks.current = { onChange, onBlur };

  useEffect(() => {
    if (!host.current) return;
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          lang.current.of((languages[language] ?? python)()),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) callbacks.current.onChange(update.state.doc.toString());
          }),
          EditorView.domEventHandlers({ blur: () => callbacks.current.onBlur?.() }),
          EditorView.theme({ "&": { fontSize: "14px", border: "1px solid #ced4da", borderRadius: "6px" } }),
        ],
      }),
    });
    view.current = editor;
    return () => editor.destroy();
    // the editor is made once; value and language changes arrive below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: lang.current.reconfigure((languages[language] ?? python)()) });
  }, [language]);

  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
    }
  }, [value]);

  return <div ref={host} data-testid="code-editor" />;
}
