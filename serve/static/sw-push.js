// The push and notification-click handlers live here (loaded by /sw.js through importScripts).
