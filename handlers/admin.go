package handlers

func (s *Server) registerAdminRoutes() {}
