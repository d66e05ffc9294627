"""Local stand-ins for SaaS services, speaking their documented HTTP contracts on 127.0.0.1."""
