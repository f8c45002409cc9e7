import "@mantine/core/styles.css";
import {
  MantineProvider,
  createTheme,
  defaultVariantColorsResolver,
  parseThemeColor,
  type CSSVariablesResolver,
  type VariantColorsResolver,
} from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import { ApiError } from "./api/problem";
import { router } from "./router";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // a 4xx will not change by asking again
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
      staleTime: 5_000,
    },
  },
});

// shades dark enough for WCAG AA contrast (4.5:1) on white, for text and filled buttons
// light, subtle and outline variants write in the colour itself: its darkest shade (or
// near-black for the pale yellows) keeps text readable on the tinted background
const LIGHT_TEXT = new Set(["yellow", "orange", "lime", "teal", "green", "cyan"]);
const readableVariants: VariantColorsResolver = (input) => {
  const colours = defaultVariantColorsResolver(input);
  if (!["light", "subtle", "outline", "transparent"].includes(input.variant ?? "")) return colours;
  const parsed = parseThemeColor({ color: input.color || input.theme.primaryColor, theme: input.theme });
  if (!parsed.isThemeColor) return colours;
  const text = LIGHT_TEXT.has(parsed.color) ? "var(--mantine-color-dark-7)" : `var(--mantine-color-${parsed.color}-9)`;
  return { ...colours, color: text, ...(input.variant === "outline" ? { border: `1px solid ${text}` } : {}) };
};
const theme = createTheme({
  primaryColor: "indigo",
  primaryShade: { light: 9, dark: 5 },
  autoContrast: true,
  defaultRadius: "md",
  variantColorResolver: readableVariants,
});
const contrast: CSSVariablesResolver = () => ({
  variables: {},
  light: { "--mantine-color-dimmed": "var(--mantine-color-gray-7)", "--mantine-color-error": "var(--mantine-color-red-9)" },
  dark: {},
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <MantineProvider theme={theme} defaultColorScheme="light" cssVariablesResolver={contrast}>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
