import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, Navigate } from "react-router";
import { Loading } from "./components/QueryState";
import { Layout, RequireAdmin, RequireAuth } from "./components/Layout";
import { SignInPage, SignUpPage } from "./pages/auth/AuthPages";
import { ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage } from "./pages/auth/RecoveryPages";
import { DashboardPage } from "./pages/dashboard/DashboardPage";
import { StartPage } from "./pages/start/StartPage";
import { NotFoundPage } from "./pages/NotFoundPage";

// pages a visitor may never open load on demand: the room holds the code editor
const RoomPage = lazy(() => import("./pages/room/RoomPage"));
const ReportPage = lazy(() => import("./pages/report/ReportPage"));
const HistoryPage = lazy(() => import("./pages/history/HistoryPage"));
const BillingPage = lazy(() => import("./pages/billing/BillingPage"));
const SettingsPage = lazy(() => import("./pages/settings/SettingsPage"));
const UnsubscribePage = lazy(() => import("./pages/notifications/UnsubscribePage"));
const AdminStatsPage = lazy(() => import("./pages/admin/AdminStatsPage"));
const AdminQuestionsPage = lazy(() => import("./pages/admin/AdminQuestionsPage"));

const later = (page: ReactNode) => <Suspense fallback={<Loading />}>{page}</Suspense>;

export const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: "/", element: <Navigate to="/dashboard" replace /> },
      { path: "/signin", element: <SignInPage /> },
      { path: "/signup", element: <SignUpPage /> },
      { path: "/forgot-password", element: <ForgotPasswordPage /> },
      { path: "/reset-password", element: <ResetPasswordPage /> },
      { path: "/verify-email", element: <VerifyEmailPage /> },
      { path: "/unsubscribe", element: later(<UnsubscribePage />) },
      {
        element: <RequireAuth />,
        children: [
          { path: "/dashboard", element: <DashboardPage /> },
          { path: "/start", element: <StartPage /> },
          { path: "/room/:id", element: later(<RoomPage />) },
          { path: "/report/:id", element: later(<ReportPage />) },
          { path: "/history", element: later(<HistoryPage />) },
          { path: "/billing", element: later(<BillingPage />) },
          { path: "/settings", element: later(<SettingsPage />) },
          {
            element: <RequireAdmin />,
            children: [
              { path: "/admin", element: later(<AdminStatsPage />) },
              { path: "/admin/questions", element: later(<AdminQuestionsPage />) },
            ],
          },
        ],
      },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
]);
